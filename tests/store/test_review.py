"""Review, fines and the append-only audit log on real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from detector.store import audit
from detector.store.errors import Conflict, InvalidRequest
from tests.store.support import FakeClock, Store, accepted_id


def _ingest(store: Store, bundles: list[Path], n: int = 2) -> list[int]:
    ids = []
    for b in bundles[:n]:
        ids.append(accepted_id(store.services.ingest.ingest_path(b)))
    return ids


def test_confirm_issues_fine_with_notice_fields(store: Store, bundles: list[Path]) -> None:
    vid = _ingest(store, bundles, 1)[0]
    store.clock.advance(3600)
    res = store.services.review.review(vid, "confirm", actor="alice", reason="clear red light")
    assert res.violation.status == "confirmed" and res.violation.reviewed_by == "alice"
    assert res.violation.reviewed_at == store.clock()
    f = res.fine
    assert f is not None
    # Decree 168/2024 Art. 6(9)(b): car through a red light, 18-20 million VND, 4 points (Art. 6(16)(b))
    assert (f.amount_min_vnd, f.amount_max_vnd, f.points) == (18_000_000, 20_000_000, 4)
    assert "6(9)(b)" in f.legal_basis and f.status == "unpaid"
    assert f.plate_text == "51F-123.45" and f.plate_colour == "white" and f.vehicle_type == "Xe ô tô"
    assert f.place == "Quận Bình Thạnh, TP.HCM" and f.detecting_unit == "CSGT"
    assert f.violation_text.startswith("Không chấp hành hiệu lệnh của đèn tín hiệu")


def test_reject_needs_reason_and_only_pending_can_be_decided(store: Store, bundles: list[Path]) -> None:
    a, b = _ingest(store, bundles, 2)
    with pytest.raises(InvalidRequest, match="needs a reason"):
        store.services.review.review(a, "reject", actor="bob", reason="  ")
    res = store.services.review.review(a, "reject", actor="bob", reason="ambulance on duty")
    assert res.violation.status == "rejected" and res.fine is None
    with pytest.raises(Conflict, match="already rejected"):
        store.services.review.review(a, "confirm", actor="carol", reason="")
    # only confirmed violations become fines
    assert store.services.payments.lookup("51F12345") == []
    store.services.review.review(b, "confirm", actor="carol", reason="", plate_text="51F-123.46")
    fines = store.services.payments.lookup("51F-123.46")
    assert [f.violation_id for f in fines] == [b]


def test_audit_records_before_after_and_is_append_only(store: Store, bundles: list[Path]) -> None:
    vid = _ingest(store, bundles, 1)[0]
    res = store.services.review.review(vid, "confirm", actor="alice", reason="ok", plate_text="51F-999.99")
    assert res.fine is not None
    store.services.review.cancel_fine(res.fine.fine_id, actor="chief", reason="duplicate notice")
    with store.db.session() as s:
        v_entries = audit.entries(s, "violation", str(vid))
        f_entries = audit.entries(s, "fine", str(res.fine.fine_id))
    assert [e.action for e in v_entries] == ["ingest", "confirm"]
    confirm = v_entries[1]
    assert confirm.actor == "alice"
    assert confirm.before is not None and confirm.after is not None
    assert confirm.before["status"] == "pending" and confirm.after["status"] == "confirmed"
    assert (
        confirm.before["plate_normalized"] == "51F12345" and confirm.after["plate_normalized"] == "51F99999"
    )
    assert [e.action for e in f_entries] == ["issue_fine", "cancel_fine"]
    assert f_entries[1].after is not None and f_entries[1].after["status"] == "cancelled"
    for stmt in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), store.db.write() as s:
            s.execute(text(stmt))
    with store.db.session() as s:
        assert [e.actor for e in audit.entries(s, "violation", str(vid))] == ["cli", "alice"]


def test_cancelled_or_paid_fines_cannot_be_cancelled_again(store: Store, bundles: list[Path]) -> None:
    vid = _ingest(store, bundles, 1)[0]
    fine = store.services.review.review(vid, "confirm", actor="a", reason="").fine
    assert fine is not None
    store.services.payments.pay(fine.fine_id, "k-1", fine.amount_due_vnd, actor="bank")
    with pytest.raises(Conflict, match="is paid"):
        store.services.review.cancel_fine(fine.fine_id, actor="a", reason="late")


def test_version_2_bundles_are_ingested_and_fined_from_their_typed_measurements(tmp_path: Path) -> None:
    """Bundles the version-2 writer signed (tests/fixtures/evidence_v2): the store verifies them, keeps
    their measurements typed, and the fine of the speeding one is its band (78.4 - 60 - 3.1 = 15.3 km/h
    over: 10-20)."""
    import json
    import shutil

    from sqlalchemy import select

    from detector.measures import RedLightMeasures, SpeedingMeasures
    from detector.store.models import ViolationRow
    from detector.store.views import ViolationView
    from tests.store.support import Keys, make_store

    v2 = Path(__file__).resolve().parents[1] / "fixtures" / "evidence_v2"
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    shutil.copy(v2 / "key.pub", trusted / "v2.pub")
    root = tmp_path / "edge"
    shutil.copytree(v2 / "root", root)
    store = make_store(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, Keys(None, trusted, None))  # type: ignore[arg-type]
    try:
        ids = []
        for p in sorted((root / "cam1").iterdir()):
            r = store.services.ingest.ingest_path(p)
            assert r.violation_id is not None, r
            ids.append(r.violation_id)
        with store.db.session() as s:
            rows = {r.id: r for r in s.scalars(select(ViolationRow))}
            assert json.loads(rows[ids[1]].measured_json)["kind"] == "speeding"  # stored typed
            red = ViolationView.of(rows[ids[0]])
        assert isinstance(red.measured, RedLightMeasures) and red.measured.time_into_red_s == 2.4
        fine = store.services.review.review(ids[1], "confirm", actor="rev", reason="").fine
        assert fine is not None and (fine.amount_min_vnd, fine.amount_max_vnd) == (4_000_000, 6_000_000)
        with store.db.session() as s:
            row = s.get(ViolationRow, ids[1])
            assert row is not None
            speeding = ViolationView.of(row)
        assert isinstance(speeding.measured, SpeedingMeasures) and speeding.measured.limit_kmh == 60.0
        view = ViolationView.model_validate_json(red.model_dump_json())
        assert view.measured == red.measured  # the API's JSON reads back into the same fields
    finally:
        store.services.close()


def test_fake_clock_moves_only_when_told() -> None:
    c = FakeClock()
    t0 = c()
    assert c() == t0
    c.advance(5)
    assert c() - t0 == timedelta(seconds=5)
