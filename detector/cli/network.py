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
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="HTML file to write."
)
def notices_print(store_config: Path | None, notice_id: int, out: Path) -> None:
    """Write the printed notice (HTML, checked against its stored sha256) to OUT."""
    from detector.evidence.atomic import atomic_write_bytes

    svc = _services(store_config)
    atomic_write_bytes(out, svc.notices.notice_html(notice_id), mode=0o644)
    svc.close()
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


COMMANDS = (notices_group, hotlist_group)
