"""CLI of the store: `detector db upgrade`, `ingest`, `review`, `fines`, `tokens`, `serve`.

Every command takes `--store-config FILE` (or $DETECTOR_STORE_CONFIG); without it the defaults of
`StoreConfig` apply relative to the working folder (sqlite:///var/detector.db, var/evidence, ...).
Output is JSON on stdout, so scripts can read it.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import logging
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from detector.config import StoreConfig, load_store_config
from detector.errors import naming

log = logging.getLogger(__name__)

config_option = click.option(
    "--store-config",
    "store_config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="DETECTOR_STORE_CONFIG",
    default=None,
    help="Store config (YAML/JSON). Default: built-in defaults under ./var.",
)
actor_option = click.option("--actor", default=None, help="Who acts (audit log). Default: cli:<login name>.")


def _config(path: Path | None) -> StoreConfig:
    return load_store_config(path)


def _services(path: Path | None) -> Any:
    """The store's services from the --store-config file (built-in defaults when None); a ConfigError
    of the database, keys or schedules it names names the file too."""
    from detector.store.db import utc_now
    from detector.store.services import build_services

    cfg = _config(path)
    with naming(f"--store-config {path}" if path is not None else "store (built-in defaults)"):
        return build_services(cfg, clock=utc_now)


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _echo(obj: Any) -> None:
    if hasattr(obj, "model_dump"):
        obj = obj.model_dump(mode="json")
    elif isinstance(obj, list):
        obj = [o.model_dump(mode="json") if hasattr(o, "model_dump") else o for o in obj]
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


# ---------------------------------------------------------------------------- db
@click.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations shipped with the package)."""


@db_group.command("upgrade")
@config_option
@click.option("--url", default=None, help="Database URL (overrides the config's url).")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(store_config: Path | None, url: str | None, revision: str) -> None:
    """Create or upgrade the store's schema to REVISION."""
    from detector.store.db import current_revision, make_engine, upgrade

    engine = make_engine(url or _config(store_config).url)
    upgrade(engine, revision)
    click.echo(json.dumps({"revision": current_revision(engine)}))
    engine.dispose()


# ---------------------------------------------------------------------------- ingest
@click.command("ingest")
@config_option
@actor_option
@click.option(
    "--root",
    "roots",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="An evidence root: ingest every bundle under it (per camera, in sequence order).",
)
@click.argument("bundles", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
def ingest(
    store_config: Path | None, actor: str | None, roots: tuple[Path, ...], bundles: tuple[Path, ...]
) -> None:
    """Verify and ingest evidence BUNDLES (folders) and/or every bundle under --root. Rejected bundles are
    quarantined (exit 1 if any is). Re-running is safe: known bundles are reported as duplicates."""
    if not bundles and not roots:
        raise click.UsageError("give bundle folders and/or --root EVIDENCE_ROOT")
    from detector.evidence.verify import find_bundles

    for root in roots:
        found, _ = find_bundles(root)
        bundles += tuple(sorted(found, key=lambda p: (p.parent.name, p.name)))
    svc = _services(store_config)
    results = [svc.ingest.ingest_path(b, actor=_actor(actor)) for b in bundles]
    cut = [line for root in roots for line in svc.ingest.cut_tails(root)]
    for line in cut:
        click.echo(f"error: {line}", err=True)
    _echo(
        [
            {
                "bundle": str(b),
                "status": r.status,
                "event_id": r.event_id,
                "violation_id": r.violation_id,
                "reason": r.reason,
                "quarantine_id": r.quarantine_id,
            }
            for b, r in zip(bundles, results, strict=True)
        ]
    )
    svc.close()
    if cut or any(r.status == "rejected" for r in results):
        raise SystemExit(1)


# ---------------------------------------------------------------------------- review
@click.group("review")
def review_group() -> None:
    """List pending violations, confirm (issue the fine) or reject them."""


@review_group.command("list")
@config_option
@click.option("--status", type=click.Choice(["pending", "confirmed", "rejected"]), default="pending")
@click.option("--after", type=int, default=0, help="Cursor: violation id to start after.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50)
def review_list(store_config: Path | None, status: str, after: int, limit: int) -> None:
    """List violations by status (pending by default), oldest first, from cursor --after."""
    svc = _services(store_config)
    _echo(svc.feed.page(after, limit, status))
    svc.close()


@review_group.command("confirm")
@config_option
@actor_option
@click.argument("violation_id", type=int)
@click.option("--reason", default="", help="Note kept in the audit log.")
@click.option("--plate", "plate_text", default=None, help="Corrected plate text, if the OCR was wrong.")
def review_confirm(
    store_config: Path | None, actor: str | None, violation_id: int, reason: str, plate_text: str | None
) -> None:
    """Confirm VIOLATION_ID: it becomes a fine from the schedule (optionally correcting the plate)."""
    svc = _services(store_config)
    _echo(
        svc.review.review(violation_id, "confirm", actor=_actor(actor), reason=reason, plate_text=plate_text)
    )
    svc.close()


@review_group.command("reject")
@config_option
@actor_option
@click.argument("violation_id", type=int)
@click.option("--reason", required=True, help="Why the violation is rejected.")
def review_reject(store_config: Path | None, actor: str | None, violation_id: int, reason: str) -> None:
    """Reject VIOLATION_ID with a reason (kept in the audit log); no fine is issued."""
    svc = _services(store_config)
    _echo(svc.review.review(violation_id, "reject", actor=_actor(actor), reason=reason))
    svc.close()


# ---------------------------------------------------------------------------- fines
@click.group("fines")
def fines_group() -> None:
    """Look up fines by plate, pay or cancel them."""


@fines_group.command("lookup")
@config_option
@click.argument("plate")
@click.option("--unpaid-only", is_flag=True)
def fines_lookup(store_config: Path | None, plate: str, unpaid_only: bool) -> None:
    """Fines of PLATE in any written form (51F-123.45, 51F12345, '51f 123 45')."""
    svc = _services(store_config)
    _echo(svc.payments.lookup(plate, include_closed=not unpaid_only))
    svc.close()


@fines_group.command("pay")
@config_option
@actor_option
@click.argument("fine_id", type=int)
@click.option(
    "--amount", "amount_vnd", type=int, required=True, help="Amount in VND (the fine's amount due)."
)
@click.option(
    "--key", "idempotency_key", required=True, help="Idempotency key: the same key never pays twice."
)
def fines_pay(
    store_config: Path | None, actor: str | None, fine_id: int, amount_vnd: int, idempotency_key: str
) -> None:
    """Pay FINE_ID (payment stub): exactly once per idempotency key, prints the receipt."""
    svc = _services(store_config)
    _echo(svc.payments.pay(fine_id, idempotency_key, amount_vnd, actor=_actor(actor)))
    svc.close()


@fines_group.command("cancel")
@config_option
@actor_option
@click.argument("fine_id", type=int)
@click.option("--reason", required=True)
def fines_cancel(store_config: Path | None, actor: str | None, fine_id: int, reason: str) -> None:
    """Cancel an unpaid FINE_ID with a reason (kept in the audit log)."""
    svc = _services(store_config)
    _echo(svc.review.cancel_fine(fine_id, actor=_actor(actor), reason=reason))
    svc.close()


# ---------------------------------------------------------------------------- tokens
@click.group("tokens")
def tokens_group() -> None:
    """API bearer tokens (only their sha256 is stored)."""


@tokens_group.command("create")
@config_option
@click.option("--role", type=click.Choice(["viewer", "reviewer", "payments", "ingest"]), required=True)
@click.option("--name", required=True, help="Who or what holds the token (shown in the audit log).")
@click.option(
    "--days",
    type=click.FloatRange(min=0, min_open=True),
    default=90.0,
    show_default=True,
    help="Lifetime in days.",
)
def tokens_create(store_config: Path | None, role: str, name: str, days: float) -> None:
    """Create a token and print its secret once."""
    svc = _services(store_config)
    t = svc.tokens.create(name, role, timedelta(days=days))
    _echo(
        {
            "token": t.secret,
            "id": t.info.id,
            "name": t.info.name,
            "role": t.info.role.value,
            "expires_at": t.info.expires_at.isoformat(),
        }
    )
    svc.close()


@tokens_group.command("revoke")
@config_option
@click.argument("token_id", type=int)
def tokens_revoke(store_config: Path | None, token_id: int) -> None:
    """Revoke API token TOKEN_ID at once."""
    svc = _services(store_config)
    try:
        revoked = svc.tokens.revoke(token_id)
    finally:
        svc.close()
    if not revoked:
        from detector.store.errors import NotFound

        raise NotFound(f"no API token with id {token_id} (see the ids `detector tokens create` printed)")
    _echo({"id": token_id, "revoked": True})


# ---------------------------------------------------------------------------- serve
def _start_health(svc: Any) -> Any:
    """The cameras' MQTT status and heartbeats, recorded for the console (camera_health.enabled)."""
    from detector.store.heartbeat import HeartbeatSubscriber

    h = svc.config.camera_health
    if not h.enabled:
        return None
    return HeartbeatSubscriber(svc.heartbeats, h.host, h.port, h.topic_prefix, h.client_id).start()


def _start_background(svc: Any, stop: threading.Event) -> list[threading.Thread]:
    from detector.store.outbox import OutboxPublisher, PahoSender

    cfg: StoreConfig = svc.config
    threads = []
    if cfg.mqtt.enabled:
        pub = OutboxPublisher(svc.db, PahoSender(cfg.mqtt), svc.clock, cfg.mqtt.batch_size)
        threads.append(
            threading.Thread(
                target=pub.run,
                args=(stop,),
                kwargs={"retry_s": cfg.mqtt.retry_delay_s},
                name="outbox",
                daemon=True,
            )
        )
    if cfg.forward.enabled:
        import httpx

        from detector.store.forwarder import Forwarder

        if not cfg.forward.url or not cfg.forward.token_file:
            raise click.UsageError(
                "forward.enabled needs forward.url and forward.token_file in the store config"
            )
        token = Path(cfg.forward.token_file).read_text(encoding="utf-8").strip()
        fwd = Forwarder(svc.db, cfg.forward, cfg.evidence_dir, httpx.Client(), token, svc.clock)

        def forward_loop() -> None:
            while not stop.is_set():
                try:
                    fwd.forward_due()
                except Exception:  # noqa: BLE001 - keep forwarding alive; rows stay pending
                    log.exception("forwarder pass failed")
                stop.wait(2.0)

        threads.append(threading.Thread(target=forward_loop, name="forwarder", daemon=True))
    for t in threads:
        t.start()
    return threads


@click.command("serve")
@config_option
@click.option("--host", default=None, help="Bind address (default: the config's api_host).")
@click.option("--port", type=int, default=None, help="Port (default: the config's api_port).")
def serve(store_config: Path | None, host: str | None, port: int | None) -> None:
    """Run the HTTP API with the web console, the MQTT outbox publisher, the cameras' health subscriber
    and the forwarder (as configured)."""
    import uvicorn

    from detector.api.app import create_app
    from detector.api.routes.console import CONSOLE_PATH

    svc = _services(store_config)
    stop = threading.Event()
    threads = _start_background(svc, stop)
    health = _start_health(svc)
    bind, bind_port = host or svc.config.api_host, port or svc.config.api_port
    shown = f"[{bind}]" if ":" in bind else ("127.0.0.1" if bind in ("0.0.0.0", "") else bind)
    click.echo(
        f"console: http://{shown}:{bind_port}{CONSOLE_PATH}  (sign in with a token from "
        "`detector tokens create`)",
        err=True,
    )
    try:
        uvicorn.run(
            create_app(svc),
            host=bind,
            port=bind_port,
            log_level="info",
            proxy_headers=False,  # the app reads X-Forwarded-For itself, from trusted_proxies only
        )
    finally:
        if health is not None:
            health.close()
        stop.set()
        for t in threads:
            t.join(timeout=10)
        svc.close()


# ---------------------------------------------------------------------------- key registry, heads
@click.group("registry")
def registry_group() -> None:
    """The store's key registry: which signing key may sign for which cameras, and when."""


def _utc(text: str | None) -> Any:
    from detector.evidence.registry import parse_utc

    if text is None:
        return None
    t = parse_utc(text)
    if t is None:
        raise click.BadParameter(f"{text!r}: give an ISO 8601 time with a zone, e.g. 2026-01-01T00:00:00Z")
    return t


@registry_group.command("add")
@config_option
@actor_option
@click.argument("public_key", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--camera", "cameras", multiple=True, required=True, help="Camera the key may sign for. Repeat."
)
@click.option("--valid-from", default=None, help="First moment the key may sign (UTC ISO 8601).")
@click.option("--valid-to", default=None, help="Moment the key stops being valid (UTC ISO 8601).")
def registry_add(
    store_config: Path | None,
    actor: str | None,
    public_key: Path,
    cameras: tuple[str, ...],
    valid_from: str | None,
    valid_to: str | None,
) -> None:
    """Grant PUBLIC_KEY (.pub, .pub.json or key folder) the cameras it may sign for (replaces its grant)."""
    from detector.evidence.keys import KeyFileError, load_public_key

    try:
        key = load_public_key(public_key)
    except KeyFileError as exc:
        raise click.BadParameter(str(exc)) from exc
    svc = _services(store_config)
    try:
        rec = svc.keyring.register(
            key, cameras, actor=_actor(actor), valid_from=_utc(valid_from), valid_to=_utc(valid_to)
        )
    finally:
        svc.close()
    _echo(dataclasses.asdict(rec))


@registry_group.command("revoke")
@config_option
@actor_option
@click.argument("key_id")
def registry_revoke(store_config: Path | None, actor: str | None, key_id: str) -> None:
    """Revoke KEY_ID: no bundle it signed is accepted from now on."""
    svc = _services(store_config)
    try:
        rec = svc.keyring.revoke(key_id, actor=_actor(actor))
    finally:
        svc.close()
    _echo(dataclasses.asdict(rec))


@registry_group.command("list")
@config_option
def registry_list(store_config: Path | None) -> None:
    """Every registered key with its cameras, window and state."""
    svc = _services(store_config)
    _echo([dataclasses.asdict(r) for r in svc.keyring.list()])
    svc.close()


@registry_group.command("export")
@config_option
def registry_export(store_config: Path | None) -> None:
    """The registry in the file form `detector verify --registry` reads (public keys inline)."""
    from detector.evidence.registry import registry_json

    svc = _services(store_config)
    click.echo(registry_json(svc.keyring.registry()), nl=False)
    svc.close()


@click.group("heads")
def heads_group() -> None:
    """Chain heads this store has recorded (checkpoints against a cut tail)."""


@heads_group.command("export")
@config_option
def heads_export(store_config: Path | None) -> None:
    """The last head recorded per camera, for `detector verify --checkpoint FILE`."""
    svc = _services(store_config)
    click.echo(json.dumps({"heads": svc.keyring.heads()}, indent=2, sort_keys=True))
    svc.close()
