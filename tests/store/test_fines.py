"""Fine schedule rows (Decree 168/2024) and lookup by normalised plate; payments exactly once under
concurrent double submits on real SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from detector.store.errors import Conflict, InvalidRequest, NoFineRule
from detector.store.fines import FineSchedule, default_schedule
from detector.store.models import Payment
from detector.store.views import NoticeView, ReceiptView
from tests.store.support import Store


@pytest.mark.parametrize(
    ("vehicle", "measured", "rule", "lo", "hi", "points"),
    [
        ("car", {"speed_kmh": 67.0, "speed_limit_kmh": 60}, "car.speeding.5_10", 800_000, 1_000_000, 0),
        ("car", {"speed_kmh": 70.0, "speed_limit_kmh": 60}, "car.speeding.10_20", 4_000_000, 6_000_000, 2),
        ("car", {"over_kmh": 20.0}, "car.speeding.10_20", 4_000_000, 6_000_000, 2),
        ("car", {"over_kmh": 20.5}, "car.speeding.20_35", 6_000_000, 8_000_000, 4),
        ("truck", {"over_kmh": 36}, "car.speeding.over_35", 12_000_000, 14_000_000, 6),
        ("motorcycle", {"over_kmh": 9.9}, "motorbike.speeding.5_10", 400_000, 600_000, 0),
        ("motorcycle", {"over_kmh": 15}, "motorbike.speeding.10_20", 800_000, 1_000_000, 0),
        ("motorcycle", {"over_kmh": 21}, "motorbike.speeding.over_20", 6_000_000, 8_000_000, 4),
        # the measurement uncertainty is given to the driver: 21 - 2 = 19 km/h -> 10-20 band
        ("car", {"over_kmh": 21, "speed_uncertainty_kmh": 2}, "car.speeding.10_20", 4_000_000, 6_000_000, 2),
    ],
)
def test_speeding_bands(vehicle: str, measured: dict, rule: str, lo: int, hi: int, points: int) -> None:
    d = default_schedule().choose("speeding", vehicle, measured)
    assert (d.rule_id, d.min_vnd, d.max_vnd, d.points) == (rule, lo, hi, points)
    assert d.amount_due_vnd == (lo + hi) // 2


def test_every_type_has_rows_for_cars_and_motorbikes_with_citations() -> None:
    s = default_schedule()
    for vtype in ("red_light", "lane_restriction", "wrong_way", "no_stopping", "solid_line", "stop_line"):
        for vehicle, article in (("car", "Art. 6("), ("motorcycle", "Art. 7(")):
            d = s.choose(vtype, vehicle, {})
            assert article in d.legal_basis, (vtype, vehicle, d)
    assert s.choose("red_light", "motorcycle", {}).min_vnd == 4_000_000  # Art. 7(7)(c)
    assert s.choose("wrong_way", "car", {}).points == 4  # Art. 6(16)(b)
    assert s.choose("no_stopping", "car", {"parked": True}).rule_id == "car.no_stopping.parked"
    with pytest.raises(NoFineRule, match="speed excess 3.0"):
        s.choose("speeding", "car", {"over_kmh": 3})
    with pytest.raises(NoFineRule, match="bicycle"):
        s.choose("red_light", "bicycle", {})


def test_bad_schedule_file_is_a_config_error(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text("schedule_version: 1\nsource: x\nrows:\n  - id: a\n    vehicle: car\n")
    with pytest.raises(ValueError, match="invalid fine schedule"):
        FineSchedule.load(p)


def _fine(store: Store, bundles: list[Path]) -> NoticeView:
    r = store.services.ingest.ingest_path(bundles[0])
    assert r.violation_id is not None
    fine = store.services.review.review(r.violation_id, "confirm", actor="rev", reason="").fine
    assert fine is not None
    return fine


def test_lookup_normalises_every_written_form(store: Store, bundles: list[Path]) -> None:
    fine = _fine(store, bundles)
    for form in ("51F-123.45", "51F12345", "51f 123 45", " 51F.123-45 "):
        assert [f.fine_id for f in store.services.payments.lookup(form)] == [fine.fine_id], form
    assert store.services.payments.lookup("51F-123.46") == []
    with pytest.raises(InvalidRequest):
        store.services.payments.lookup("--- ...")


def test_lookup_takes_letter_o_and_digit_0_for_each_other(store: Store, bundles: list[Path]) -> None:
    r = store.services.ingest.ingest_path(bundles[0])
    assert r.violation_id is not None
    fine = store.services.review.review(
        r.violation_id, "confirm", actor="rev", reason="", plate_text="51F-100.45"
    )
    assert fine.fine is not None and fine.fine.plate_normalized == "51F10045"
    for form in ("51F-100.45", "51f 1oo.45", "51F1O0.45"):
        assert [f.fine_id for f in store.services.payments.lookup(form)] == [fine.fine.fine_id], form
    assert store.services.payments.lookup("51F-1OO.46") == []
    assert store.services.payments.lookup("51F-10.45") == []


def _race(n: int, fn) -> list[object]:  # noqa: ANN001
    barrier = threading.Barrier(n)
    out: list[object] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def test_concurrent_double_submit_pays_exactly_once(store: Store, bundles: list[Path]) -> None:
    fine = _fine(store, bundles)
    pay = store.services.payments.pay
    same_key = _race(8, lambda i: pay(fine.fine_id, "client-42", fine.amount_due_vnd, actor=f"t{i}"))
    receipts = [r for r in same_key if isinstance(r, ReceiptView)]
    assert len(receipts) == 8, same_key  # every submit gets the receipt...
    assert len({r.receipt_no for r in receipts}) == 1
    assert sum(not r.replayed for r in receipts) == 1  # ...but only one charged
    other_keys = _race(6, lambda i: pay(fine.fine_id, f"other-{i}", fine.amount_due_vnd, actor="x"))
    assert all(isinstance(r, Conflict) for r in other_keys), other_keys
    with store.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Payment)) == 1
    assert store.services.payments.get_fine(fine.fine_id).status == "paid"


def test_concurrent_different_keys_on_unpaid_fine(store: Store, bundles: list[Path]) -> None:
    fine = _fine(store, bundles)
    pay = store.services.payments.pay
    out = _race(8, lambda i: pay(fine.fine_id, f"k{i}", fine.amount_due_vnd, actor="x"))
    wins = [r for r in out if isinstance(r, ReceiptView)]
    assert len(wins) == 1 and not wins[0].replayed, out
    assert all(isinstance(r, Conflict) for r in out if r is not wins[0])
    with pytest.raises(InvalidRequest, match="differs from the amount due"):
        pay(fine.fine_id + 0, "k-wrong", 1, actor="x")


def _pay_in_process(url: str, fine_id: int, key: str, amount: int, barrier, out) -> None:  # noqa: ANN001
    from detector.store.db import Database, utc_now
    from detector.store.payments import PaymentService

    db = Database.from_url(url)  # a fresh engine: never share a pool across fork
    barrier.wait()
    try:
        r = PaymentService(db, utc_now).pay(fine_id, key, amount, actor="proc")
        out.put(("paid", r.receipt_no, r.replayed))
    except Conflict as exc:
        out.put(("conflict", str(exc), None))
    finally:
        db.dispose()


def test_concurrent_double_submit_from_processes(store: Store, bundles: list[Path]) -> None:
    import multiprocessing as mp

    fine = _fine(store, bundles)
    ctx = mp.get_context("fork")
    n = 4
    barrier, out = ctx.Barrier(n), ctx.Queue()
    url = store.config.url
    procs = [
        ctx.Process(
            target=_pay_in_process,
            args=(url, fine.fine_id, "dup" if i % 2 else f"key-{i}", fine.amount_due_vnd, barrier, out),
        )
        for i in range(n)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    charged = [r for r in results if r[0] == "paid" and not r[2]]
    assert len(charged) == 1, results
    assert all(r[0] == "conflict" or r[1] == charged[0][1] for r in results), results
    with store.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Payment)) == 1
