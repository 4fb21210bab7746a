"""The notice's life (issue 18) on real SQLite and PostgreSQL with an injected clock: registry,
routing, the printed notice, publication, the inspection flag and the signed payment callback."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from detector.store.errors import Conflict, InvalidRequest
from detector.store.inspection import StoreInspectionRegistry
from detector.store.notice_states import TRANSITIONS, add_working_days, limitation_end
from detector.store.portal import SignatureRefused, sign
from detector.store.views import VN_TIME
from tests.store.support import Keys, Store, accepted_id, make_store

SECRET = b"portal-shared-secret-0123456789"


@pytest.fixture()
def nstore(db_url: str, tmp_path: Path, keys: Keys):  # noqa: ANN201
    secret = tmp_path / "portal.secret"
    secret.write_bytes(SECRET)
    network = {"notices": {"notices_dir": str(tmp_path / "notices"), "payment_secret_file": str(secret)}}
    s = make_store(db_url, tmp_path, keys, network=network)
    yield s
    s.services.close()


def _fine(store: Store, bundle: Path, plate: str | None = None) -> int:
    vid = accepted_id(store.services.ingest.ingest_path(bundle))
    res = store.services.review.review(vid, "confirm", actor="alice", reason="ok", plate_text=plate)
    assert res.fine is not None
    return res.fine.fine_id


def _callback(
    store: Store, ref: str, amount: int, txn: str = "TXN-1", secret: bytes = SECRET
) -> tuple[bytes, str]:
    now = store.clock()
    body = json.dumps(
        {
            "payment_ref": ref,
            "amount_vnd": amount,
            "transaction_id": txn,
            "paid_at": now.isoformat(),
            "sent_at": now.isoformat(),
        }
    ).encode()
    return body, sign(secret, body)


def _actions(store: Store, notice_id: int) -> list[str]:
    return [a["action"] for a in store.services.notices.audit_trail(notice_id)]


def test_notice_goes_through_every_state(nstore: Store, bundles: list[Path]) -> None:
    svc = nstore.services.notices
    fine_id = _fine(nstore, bundles[0])
    fine = nstore.services.payments.get_fine(fine_id)
    nstore.clock.now = fine.occurred_at + timedelta(days=2)
    done = svc.advance()
    assert [(t.event, t.to_state) for t in done] == [
        ("open", "opened"),
        ("route", "routed"),
        ("notify", "notified"),
    ]
    n = svc.get(done[0].notice_id)
    # 51F-123.45 belongs (in the sample registry) to an owner in Quận Bình Thạnh: the district's unit
    assert n.owner_province == "TP. Hồ Chí Minh" and n.unit_code == "PC08-HCM-BT"
    assert n.decision_no == f"{n.id:06d}/TB-PC08-HCM-BT"
    assert n.detected_at == fine.occurred_at and n.notified_at == nstore.clock()
    assert n.notify_deadline == add_working_days(fine.occurred_at, 10)
    assert n.publish_due_at == nstore.clock() + timedelta(days=20)
    page = svc.notice_html(n.id).decode()
    for text in (
        "THÔNG BÁO",
        n.decision_no,
        "51F-123.45",
        "Đội CSGT Công an quận Bình Thạnh",
        n.payment_ref,
        "Lý Văn Phúc",
        "Cách nộp phạt",
        "data:image/jpeg;base64,",
        "19.000.000 đồng",
        "điểm b khoản 9 Điều 6",
    ):
        assert text in page, text
    # nothing is due before the period runs out
    nstore.clock.now = n.publish_due_at - timedelta(seconds=1)
    assert svc.advance() == []
    # Decree 168/2024 Art. 47(8)(a): the vehicle is posted with the notice ("đồng thời"), no owner name
    (early,) = nstore.services.notices.public_lookup("51F-123.45")
    assert early.decision_no == n.decision_no and early.published_at == n.notified_at
    nstore.clock.now = n.publish_due_at
    assert [(t.event, t.to_state) for t in svc.advance()] == [("publish", "published"), ("flag", "flagged")]
    public = svc.public_lookup("51f 123 45")
    assert [p.decision_no for p in public] == [n.decision_no] and public[0].amount_due_vnd == 19_000_000
    with nstore.db.session() as s:
        assert [f.notice_id for f in StoreInspectionRegistry.active(s, "51F12345")] == [n.id]
    with pytest.raises(Conflict, match="cannot acknowledge a notice that is flagged"):
        svc.acknowledge(n.id, "officer")
    # a callback with a bad signature is refused and changes nothing but the audit log
    body, good = _callback(nstore, n.payment_ref, 19_000_000)
    with pytest.raises(SignatureRefused, match="does not match"):
        svc.payment_callback(body, sign(b"someone-else-secret-000000", body))
    with pytest.raises(SignatureRefused):
        svc.payment_callback(body.replace(b"19000000", b"1900000"), good)
    with pytest.raises(SignatureRefused, match="without"):
        svc.payment_callback(body, None)
    assert svc.get(n.id).state == "flagged" and nstore.services.payments.get_fine(fine_id).status == "unpaid"
    # the signed callback pays the fine, closes the case and clears the flag; a repeat pays nothing twice
    t = svc.payment_callback(body, good)
    assert (t.from_state, t.to_state) == ("flagged", "closed")
    assert nstore.services.payments.get_fine(fine_id).status == "paid"
    assert svc.public_lookup("51F12345") == []
    with nstore.db.session() as s:
        assert StoreInspectionRegistry.active(s, "51F12345") == []
    assert svc.payment_callback(body, good).to_state == "closed"
    assert _actions(nstore, n.id) == [
        "notice_open",
        "notice_route",
        "notice_notify",
        "notice_publish",
        "notice_flag",
        "notice_pay",
    ]
    with nstore.db.session() as s:
        from detector.store import audit

        refused = [a for a in audit.entries(s, "notice", "-") if a.action == "payment_callback_refused"]
    assert len(refused) == 3


def test_old_callback_and_missing_secret_are_refused(nstore: Store, bundles: list[Path]) -> None:
    svc = nstore.services.notices
    _fine(nstore, bundles[0])
    nstore.clock.now = nstore.services.payments.lookup("51F12345")[0].occurred_at + timedelta(hours=1)
    nid = svc.advance()[0].notice_id
    body, sig = _callback(nstore, svc.get(nid).payment_ref, 19_000_000)
    nstore.clock.advance(3600)  # replayed an hour later
    with pytest.raises(SignatureRefused, match="more than 300 s"):
        svc.payment_callback(body, sig)
    assert svc.get(nid).state == "notified"


def test_acknowledged_owner_is_not_published_and_late_notice_is_marked(
    nstore: Store, bundles: list[Path]
) -> None:
    svc = nstore.services.notices
    _fine(nstore, bundles[0])
    occurred = nstore.services.payments.lookup("51F12345")[0].occurred_at
    nstore.clock.now = occurred + timedelta(days=30)  # the unit ran late: past 10 working days
    nid = svc.advance()[0].notice_id
    notify = [a for a in svc.audit_trail(nid) if a["action"] == "notice_notify"][0]
    assert notify["after"]["late"] is True
    svc.acknowledge(nid, "officer-7")
    nstore.clock.advance(86400 * 40)
    assert svc.advance() == []
    assert svc.get(nid).state == "acknowledged"
    assert [p.decision_no for p in svc.public_lookup("51F12345")] == [svc.get(nid).decision_no]  # unpaid


def test_unknown_owner_waits_and_expires_after_one_year(nstore: Store, bundles: list[Path]) -> None:
    svc = nstore.services.notices
    _fine(nstore, bundles[0], plate="99A-999.99")  # not in the sample registry
    occurred = nstore.services.payments.lookup("99A99999")[0].occurred_at
    nstore.clock.now = occurred + timedelta(days=1)
    done = svc.advance()
    assert [t.to_state for t in done] == ["opened", "owner_unknown"]
    assert svc.advance() == []  # still unknown: no new audit rows
    # Decree 168/2024 Art. 4(1)-(2): one year, to the end of its last day (Vietnam's time)
    end = limitation_end(occurred)
    assert end.astimezone(VN_TIME).date() == occurred.astimezone(VN_TIME).date().replace(
        year=occurred.astimezone(VN_TIME).year + 1
    )
    assert (end.astimezone(VN_TIME).hour, end.astimezone(VN_TIME).minute) == (23, 59)
    nstore.clock.now = end
    assert svc.advance() == []  # the record may still be used on its last day
    nstore.clock.now = end + timedelta(microseconds=1)
    assert [(t.event, t.to_state) for t in svc.advance()] == [("expire", "expired")]
    assert _actions(nstore, done[0].notice_id) == ["notice_open", "notice_owner_not_found", "notice_expire"]


def test_state_machine_has_no_way_out_of_a_final_state() -> None:
    finals = {"closed", "cancelled", "expired"}
    assert not [k for k in TRANSITIONS if k[0].value in finals]
    reachable = {"opened"} | {v.value for v in TRANSITIONS.values()}
    assert reachable == {
        "opened",
        "owner_unknown",
        "routed",
        "notified",
        "acknowledged",
        "published",
        "flagged",
        "closed",
        "cancelled",
        "expired",
    }


def test_working_days_skip_the_weekend() -> None:
    from detector.store.views import VN_TIME

    friday = datetime(2026, 12, 4, 10, 0, tzinfo=VN_TIME)
    end = add_working_days(friday, 1).astimezone(VN_TIME)
    assert (end.weekday(), end.day, end.hour) == (0, 7, 23)  # Monday the 7th, end of day


def test_cli_notice_flow(tmp_path: Path, keys: Keys, bundles: list[Path]) -> None:
    from click.testing import CliRunner

    from detector.cli import main_group

    (tmp_path / "secret").write_bytes(SECRET)
    cfg = tmp_path / "store.yaml"
    cfg.write_text(
        f"url: sqlite:///store.db\nevidence_dir: ev\nquarantine_dir: q\ntrusted_keys: {keys.trusted_dir}\n"
        "network: {notices: {notices_dir: printed, payment_secret_file: secret}}\n"
    )
    runner = CliRunner()
    c = ["--store-config", str(cfg)]

    def run(*args: str) -> tuple[int, Any]:
        r = runner.invoke(main_group, list(args), catch_exceptions=False)
        try:
            return r.exit_code, json.loads(r.stdout)
        except ValueError:
            return r.exit_code, r.output

    assert run("db", "upgrade", *c)[0] == 0
    assert run("ingest", *c, str(bundles[0]))[0] == 0
    assert run("review", "confirm", "1", *c, "--actor", "ann")[0] == 0
    code, steps = run("notices", "advance", *c)
    assert code == 0 and [s["to_state"] for s in steps] == ["opened", "routed", "notified"]
    code, shown = run("notices", "show", "1", *c)
    assert code == 0 and shown["notice"]["state"] == "notified"
    out = tmp_path / "notice.html"
    assert run("notices", "print", "1", *c, "--out", str(out))[0] == 0
    assert shown["notice"]["decision_no"] in out.read_text(encoding="utf-8")
    ref = shown["notice"]["payment_ref"]
    wrong = tmp_path / "wrong"
    wrong.write_bytes(b"not-the-portal-secret")
    with pytest.raises(SignatureRefused):  # main() turns it into exit 1 with the message
        run(
            "notices",
            "portal-pay",
            ref,
            *c,
            "--amount",
            "19000000",
            "--transaction",
            "T1",
            "--secret-file",
            str(wrong),
        )
    code, paid = run(
        "notices",
        "portal-pay",
        ref,
        *c,
        "--amount",
        "19000000",
        "--transaction",
        "T1",
        "--secret-file",
        str(tmp_path / "secret"),
    )
    assert code == 0 and paid["to_state"] == "closed"


def test_a_case_with_missing_evidence_waits_and_the_others_go_on(nstore: Store, bundles: list[Path]) -> None:
    svc = nstore.services.notices
    ids = []
    for b, plate in ((bundles[0], None), (bundles[1], "51F-123.46")):
        vid = accepted_id(nstore.services.ingest.ingest_path(b))
        nstore.services.review.review(vid, "confirm", actor="alice", reason="ok", plate_text=plate)
        ids.append(vid)
    path, _ = nstore.services.feed.evidence_file(ids[0], "overview.jpg")
    path.unlink()
    nstore.clock.now = nstore.services.payments.lookup("51F12345")[0].occurred_at + timedelta(days=1)
    done = svc.advance()
    states = {svc.get(t.notice_id).fine_id: svc.get(t.notice_id).state for t in done}
    assert sorted(states.values()) == ["notified", "routed"]
    assert [t.event for t in done].count("notify") == 1


def test_cancelling_a_flagged_notice_clears_the_flag(nstore: Store, bundles: list[Path]) -> None:
    svc = nstore.services.notices
    _fine(nstore, bundles[0])
    nstore.clock.now = nstore.services.payments.lookup("51F12345")[0].occurred_at + timedelta(days=1)
    nid = svc.advance()[0].notice_id
    nstore.clock.advance(21 * 86400)
    assert [t.to_state for t in svc.advance()] == ["published", "flagged"]
    with pytest.raises(InvalidRequest, match="needs a reason"):
        svc.cancel(nid, "chief", " ")
    t = svc.cancel(nid, "chief", "vehicle was stolen at the time (report 12/2026)")
    assert (t.from_state, t.to_state) == ("flagged", "cancelled")
    with nstore.db.session() as s:
        assert StoreInspectionRegistry.active(s, "51F12345") == []
    assert svc.public_lookup("51F12345") == []
    fine_id = svc.get(nid).fine_id
    assert nstore.services.payments.get_fine(fine_id).status == "cancelled"
    with pytest.raises(Conflict, match="cannot pay a notice that is cancelled"):
        svc.payment_callback(*_callback(nstore, svc.get(nid).payment_ref, 19_000_000))
    assert nstore.services.payments.get_fine(fine_id).status == "cancelled"  # no money moved
    assert [a["action"] for a in svc.audit_trail(nid)][-1] == "notice_cancel"


def test_a_fine_paid_or_cancelled_elsewhere_settles_its_notice(nstore: Store, bundles: list[Path]) -> None:
    svc = nstore.services.notices
    paid = _fine(nstore, bundles[0])
    dropped = _fine(nstore, bundles[1], plate="51F-123.46")
    nstore.clock.now = nstore.services.payments.get_fine(paid).occurred_at + timedelta(days=1)
    svc.advance()
    nstore.clock.advance(21 * 86400)
    svc.advance()  # both published and flagged
    nstore.services.payments.pay(paid, "counter-1", 19_000_000, actor="cashier")
    nstore.services.review.cancel_fine(dropped, actor="chief", reason="duplicate")
    done = {(t.event, t.to_state) for t in svc.advance()}
    assert done == {("pay", "closed"), ("cancel", "cancelled")}
    with nstore.db.session() as s:
        assert (
            StoreInspectionRegistry.active(s, "51F12345")
            == []
            == StoreInspectionRegistry.active(s, "51F12346")
        )
    assert svc.advance() == []


def test_limitation_is_a_calendar_year_to_the_end_of_its_last_day() -> None:
    """Decree 168/2024 Art. 4(1)-(2), Art. 4(3)(b): from the device's record, one year, until the end
    of the last day, in Vietnam's time; a leap day ends on 28 February."""
    from datetime import UTC

    seen = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam
    assert limitation_end(seen).astimezone(VN_TIME).isoformat() == "2027-12-07T23:59:59.999999+07:00"
    late = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)  # 03:00 on 8 December in Vietnam
    assert limitation_end(late).astimezone(VN_TIME).date().isoformat() == "2027-12-08"
    leap = datetime(2028, 2, 29, 5, 0, tzinfo=UTC)
    assert limitation_end(leap).astimezone(VN_TIME).date().isoformat() == "2029-02-28"
    # a year with a 29 February in it is 366 days, not 365
    assert (
        limitation_end(datetime(2027, 6, 1, 3, tzinfo=UTC)) - datetime(2027, 6, 1, 3, tzinfo=UTC)
    ).days == 366
