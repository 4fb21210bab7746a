"""CLI of the notice's life: `detector notices advance|list|show|print|acknowledge|cancel|public|
portal-pay`. JSON on stdout; `--store-config` as for the other store commands."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

import click

from detector.cli.store import _actor, _echo, _services, actor_option, config_option


@click.group("notices")
def notices_group() -> None:
    """Notices after a fine: owner, routing, printed notice, publication, inspection flag, payment."""


@notices_group.command("advance")
@config_option
@actor_option
def notices_advance(store_config: Path | None, actor: str | None) -> None:
    """Run every step due now (open, route, notify, publish and flag, expire); prints the transitions."""
    svc = _services(store_config)
    _echo(svc.notices.advance(_actor(actor)))
    svc.close()


@notices_group.command("list")
@config_option
@click.option("--state", default=None, help="Only notices in this state.")
def notices_list(store_config: Path | None, state: str | None) -> None:
    """Notices, oldest first."""
    svc = _services(store_config)
    _echo(svc.notices.list(state))
    svc.close()


@notices_group.command("show")
@config_option
@click.argument("notice_id", type=int)
def notices_show(store_config: Path | None, notice_id: int) -> None:
    """One notice and its audit trail."""
    svc = _services(store_config)
    click.echo(
        json.dumps(
            {
                "notice": svc.notices.get(notice_id).model_dump(mode="json"),
                "audit": svc.notices.audit_trail(notice_id),
            },
            ensure_ascii=False,
            indent=2,
            default=str,
        )
    )
    svc.close()


@notices_group.command("print")
@config_option
@click.argument("notice_id", type=int)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write: FILE.pdf prints a PDF with headless Chromium, anything else the HTML.",
)
def notices_print(store_config: Path | None, notice_id: int, out: Path) -> None:
    """Write the printed notice (checked against its stored sha256) to OUT, as HTML or PDF (A4)."""
    from detector.fsutil import atomic_write_bytes

    svc = _services(store_config)
    try:
        page = svc.notices.notice_html(notice_id)
    finally:
        svc.close()
    if out.suffix.lower() == ".pdf":
        from detector.store.notice_pdf import html_to_pdf

        html_to_pdf(page, out)
    else:
        atomic_write_bytes(out, page, mode=0o644)
    click.echo(str(out))


@notices_group.command("acknowledge")
@config_option
@actor_option
@click.argument("notice_id", type=int)
def notices_acknowledge(store_config: Path | None, actor: str | None, notice_id: int) -> None:
    """The owner came to the unit: the notice will not be published."""
    svc = _services(store_config)
    _echo(svc.notices.acknowledge(notice_id, _actor(actor)))
    svc.close()


@notices_group.command("cancel")
@config_option
@actor_option
@click.argument("notice_id", type=int)
@click.option("--reason", required=True)
def notices_cancel(store_config: Path | None, actor: str | None, notice_id: int, reason: str) -> None:
    """Cancel an open notice (its inspection flag is cleared)."""
    svc = _services(store_config)
    _echo(svc.notices.cancel(notice_id, _actor(actor), reason))
    svc.close()


@notices_group.command("public")
@config_option
@click.argument("plate")
def notices_public(store_config: Path | None, plate: str) -> None:
    """What the public lookup shows for PLATE (published notices only)."""
    svc = _services(store_config)
    _echo(svc.notices.public_lookup(plate))
    svc.close()


@notices_group.command("portal-pay")
@config_option
@click.argument("payment_ref")
@click.option("--amount", "amount_vnd", type=int, required=True, help="Amount paid, VND.")
@click.option("--transaction", "transaction_id", required=True, help="The portal's transaction id.")
@click.option(
    "--secret-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The portal's HMAC secret (the payment-portal stand-in signs with it).",
)
def notices_portal_pay(
    store_config: Path | None, payment_ref: str, amount_vnd: int, transaction_id: str, secret_file: Path
) -> None:
    """Payment-portal stand-in: sign a paid callback for PAYMENT_REF and deliver it to the store."""
    from detector.store.db import utc_now
    from detector.store.portal import load_secret, sign

    now = utc_now().astimezone(UTC).isoformat()
    body = json.dumps(
        {
            "payment_ref": payment_ref,
            "amount_vnd": amount_vnd,
            "transaction_id": transaction_id,
            "paid_at": now,
            "sent_at": now,
        }
    ).encode()
    svc = _services(store_config)
    _echo(svc.notices.payment_callback(body, sign(load_secret(secret_file), body)))
    svc.close()


# ---------------------------------------------------------------------------- hotlist
@click.group("hotlist")
def hotlist_group() -> None:
    """Wanted plates (stolen, hit-and-run, wanted by a unit), the file for edge boxes, alerts."""


@hotlist_group.command("add")
@config_option
@actor_option
@click.argument("plate")
@click.option("--reason", type=click.Choice(["stolen", "hit_and_run", "wanted"]), required=True)
@click.option("--unit", required=True, help="Unit that wants the vehicle.")
@click.option("--note", default="")
def hotlist_add(
    store_config: Path | None, actor: str | None, plate: str, reason: str, unit: str, note: str
) -> None:
    """Add PLATE to the hotlist."""
    svc = _services(store_config)
    _echo(svc.hotlists.add(plate, reason, unit, actor=_actor(actor), note=note))
    svc.close()


@hotlist_group.command("withdraw")
@config_option
@actor_option
@click.argument("entry_id", type=int)
@click.option("--reason", required=True)
def hotlist_withdraw(store_config: Path | None, actor: str | None, entry_id: int, reason: str) -> None:
    """Withdraw a hotlist entry (no more alerts)."""
    svc = _services(store_config)
    _echo(svc.hotlists.withdraw(entry_id, actor=_actor(actor), reason=reason))
    svc.close()


@hotlist_group.command("list")
@config_option
def hotlist_list(store_config: Path | None) -> None:
    """Active wanted plates."""
    svc = _services(store_config)
    _echo(svc.hotlists.active())
    svc.close()


@hotlist_group.command("export")
@config_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def hotlist_export(store_config: Path | None, out: Path) -> None:
    """Write the hotlist file edge boxes read (atomically; a running edge picks it up when it changes)."""
    svc = _services(store_config)
    click.echo(str(svc.hotlists.export(out)))
    svc.close()


@hotlist_group.command("alerts")
@config_option
@click.option("--after", type=int, default=0, help="Only alerts with a larger id.")
def hotlist_alerts(store_config: Path | None, after: int) -> None:
    """Hotlist alerts, oldest first."""
    svc = _services(store_config)
    _echo(svc.hotlists.alerts(after))
    svc.close()


# ---------------------------------------------------------------------------- statistics
@click.group("stats")
def stats_group() -> None:
    """Traffic statistics from a camera's track records (no extra inference)."""


@stats_group.command("compute")
@config_option
@click.option(
    "--camera-config",
    "camera_config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The camera's config (lanes, stop line, calibration).",
)
@click.option(
    "--tracks",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="tracks.jsonl of a run of that camera.",
)
@click.option(
    "--count-line",
    nargs=4,
    type=float,
    required=True,
    metavar="X1 Y1 X2 Y2",
    help="Counting line in world metres; traffic crosses it from right to left of p1->p2.",
)
@click.option("--interval", "interval_s", type=float, default=60.0, show_default=True)
@click.option(
    "--start",
    "start_iso",
    default=None,
    help="Wall time of stream time 0 (default: the config's source.start_time).",
)
@click.option("--save/--no-save", default=True, help="Store the rows (default) or only print them.")
def stats_compute(
    store_config: Path | None,
    camera_config: Path,
    tracks: Path,
    count_line: tuple[float, ...],
    interval_s: float,
    start_iso: str | None,
    save: bool,
) -> None:
    """Count, speeds, occupancy, queue and congestion per interval, lane and class."""
    from dataclasses import asdict
    from datetime import datetime

    from detector.config import TrafficStatsConfig
    from detector.configcheck import load_checked_camera_config
    from detector.errors import ConfigError
    from detector.geometry import Scene
    from detector.network.stats import geometry_from_scene, load_track_records, traffic_stats

    cam = load_checked_camera_config(camera_config)
    if cam.rules is None:
        raise ConfigError(f"{camera_config}: no rules section (lanes, calibration) to take statistics with")
    start = datetime.fromisoformat(start_iso) if start_iso else cam.source.start_time
    if start is None or start.tzinfo is None:
        raise ConfigError(
            f"{camera_config}: give --start with a time zone (the config has no source.start_time)"
        )
    x1, y1, x2, y2 = count_line
    cfg = TrafficStatsConfig(interval_s=interval_s, count_line=((x1, y1), (x2, y2)))
    stats = traffic_stats(
        load_track_records(tracks),
        geometry_from_scene(Scene.from_config(cam.rules)),
        cfg,
        cam.camera_id,
        start.astimezone(UTC),
    )
    if save:
        svc = _services(store_config)
        svc.traffic.save(stats)
        svc.close()
    click.echo(json.dumps([asdict(s) for s in stats], ensure_ascii=False, indent=2, default=str))


# ---------------------------------------------------------------------------- sections
@click.group("section")
def section_group() -> None:
    """Average speed between cameras on one road (point-to-point)."""


@section_group.command("check")
@config_option
@actor_option
@click.option(
    "--network",
    "network_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Network config with the sections (cameras, chainage, clocks, limits).",
)
@click.argument(
    "passages", nargs=-1, required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--save/--no-save", default=True, help="Store the violations (default) or only print them.")
@click.option(
    "--since",
    "since_iso",
    default=None,
    help="Stored passages only: those crossing at or after this time (ISO 8601 with a zone); "
    "a scheduler passes its last run less the sections' max_travel_s.",
)
def section_check(
    store_config: Path | None,
    actor: str | None,
    network_file: Path,
    passages: tuple[Path, ...],
    save: bool,
    since_iso: str | None,
) -> None:
    """Pair passages over every section: the PASSAGES files (JSON lines, one per camera or one for
    all), or without files the signed passage bundles the store has ingested from the section's
    cameras (`detector replay|run --network`). A violation over two stored bundles becomes a stored
    violation pending review (a fine once a reviewer confirms it)."""
    from dataclasses import asdict

    from detector.config import load_network_config
    from detector.measures import measures_json
    from detector.network.section import SectionRule, load_passages

    net = load_network_config(network_file)
    names = {sec.id: sec.name for sec in net.sections}
    since = None
    if since_iso is not None:
        from datetime import datetime

        try:
            since = datetime.fromisoformat(since_iso)
        except ValueError as exc:
            raise click.BadParameter(f"not an ISO 8601 time: {since_iso!r}", param_hint="--since") from exc
        if since.tzinfo is None:
            raise click.BadParameter(f"{since_iso!r} has no time zone", param_hint="--since")
    if not passages:
        if not save:
            raise click.UsageError("without PASSAGES files the passages come from the store: drop --no-save")
        svc = _services(store_config)
        try:
            found = [
                v
                for sec in net.sections
                for v in SectionRule(sec).check(
                    svc.sections.passages((c.camera_id for c in sec.cameras), since=since)
                )
            ]
            _echo(svc.sections.save(found, _actor(actor), names))
        finally:
            svc.close()
        return
    seen = [p for f in passages for p in load_passages(f)]
    found = [v for sec in net.sections for v in SectionRule(sec).check(seen)]
    if save:
        svc = _services(store_config)
        _echo(svc.sections.save(found, _actor(actor), names))
        svc.close()
        return
    click.echo(
        json.dumps(
            [asdict(v) | {"measured": measures_json(v.measured)} for v in found],
            ensure_ascii=False,
            indent=2,
            default=str,
        )
    )
