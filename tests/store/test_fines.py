"""Fine schedule rows (Decree 168/2024) and lookup by normalised plate; payments exactly once under
concurrent double submits on real SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from detector.errors import ConfigError
from detector.measures import (
    PassageMeasures,
    SpeedingMeasures,
    TooManyRidersMeasures,
    load_measures,
    measures_json,
)
from detector.store.errors import Conflict, InvalidRequest, NoFineRule
from detector.store.fines import FineSchedule, default_schedule
from detector.store.models import Payment
from detector.store.views import NoticeView, ReceiptView
from detector.types import ViolationType
from tests.measures_examples import EXAMPLES
from tests.measures_examples import speed_measures as _speed
from tests.store.support import Store


@pytest.mark.parametrize(
    ("vehicle", "measured", "rule", "lo", "hi", "points"),
    [
        ("car", _speed(67.0), "car.speeding.5_10", 800_000, 1_000_000, 0),
        ("car", _speed(70.0), "car.speeding.10_20", 4_000_000, 6_000_000, 2),
        ("car", _speed(80.0), "car.speeding.10_20", 4_000_000, 6_000_000, 2),
        ("car", _speed(80.5), "car.speeding.20_35", 6_000_000, 8_000_000, 4),
        ("truck", _speed(96.0), "car.speeding.over_35", 12_000_000, 14_000_000, 6),
        ("motorcycle", _speed(49.9, limit=40), "motorbike.speeding.5_10", 400_000, 600_000, 0),
        ("motorcycle", _speed(55.0, limit=40), "motorbike.speeding.10_20", 800_000, 1_000_000, 0),
        ("motorcycle", _speed(61.0, limit=40), "motorbike.speeding.over_20", 6_000_000, 8_000_000, 4),
        # the measurement uncertainty is given to the driver: 21 - 2 = 19 km/h -> 10-20 band
        ("car", _speed(81.0, unc=2.0), "car.speeding.10_20", 4_000_000, 6_000_000, 2),
    ],
)
def test_speeding_bands(
    vehicle: str, measured: SpeedingMeasures, rule: str, lo: int, hi: int, points: int
) -> None:
    d = default_schedule().choose(measured, vehicle)
    assert (d.rule_id, d.min_vnd, d.max_vnd, d.points) == (rule, lo, hi, points)
    assert d.amount_due_vnd == (lo + hi) // 2


@pytest.mark.parametrize("vtype", [t for t in ViolationType if t is not ViolationType.PASSAGE])
def test_each_violation_type_is_fined_from_its_typed_measurements(vtype: ViolationType) -> None:
    """Every type's measurements pick a row of that type for each vehicle group the decree covers,
    citing its article; the same values through JSON (as the store keeps them) pick the same row."""
    s = default_schedule()
    m = EXAMPLES[vtype]
    assert m.kind == vtype.value
    groups = {r.vehicle for r in s.model.rows if r.violation_type == vtype.value}
    assert groups, f"no fine row for {vtype.value}"
    for vehicle, group, article in (("car", "car", "Art. 6("), ("motorcycle", "motorbike", "Art. 7(")):
        if group not in groups:
            with pytest.raises(NoFineRule):
                s.choose(m, vehicle)
            continue
        d = s.choose(m, vehicle)
        assert d.rule_id.startswith(f"{group}.{vtype.value}") and article in d.legal_basis, d
        assert s.choose(load_measures(vtype.value, json.loads(json.dumps(measures_json(m)))), vehicle) == d


def test_rows_read_the_measurements_they_name() -> None:
    s = default_schedule()
    assert s.choose(EXAMPLES[ViolationType.RED_LIGHT], "motorcycle").min_vnd == 4_000_000  # Art. 7(7)(c)
    assert s.choose(EXAMPLES[ViolationType.WRONG_WAY], "car").points == 4  # Art. 6(16)(b)
    three = TooManyRidersMeasures(riders=3, four_or_more=False, held_s=1.5)
    four = TooManyRidersMeasures(riders=4, four_or_more=True, held_s=1.5)
    assert s.choose(three, "motorcycle").rule_id != s.choose(four, "motorcycle").rule_id
    assert s.choose(four, "motorcycle").rule_id == "motorbike.too_many_riders.4_or_more"
    with pytest.raises(NoFineRule, match="speed excess 3.0"):
        s.choose(_speed(63.0), "car")
    with pytest.raises(NoFineRule, match="bicycle"):
        s.choose(EXAMPLES[ViolationType.RED_LIGHT], "bicycle")


@pytest.mark.parametrize(
    ("row", "error"),
    [
        # a flag that is not a field (a renamed field) would never match: the load refuses it
        ("violation_type: too_many_riders\n    flags: {four_or_mor: true}", "not a boolean field"),
        ("violation_type: no_stopping\n    flags: {parked: true}", "not a boolean field"),
        ("violation_type: too_many_riders\n    flags: {riders: true}", "not a boolean field"),
        ("violation_type: red_light\n    over_kmh: {gt: 5}", "measures no speed"),
        ("violation_type: red_lights", "unknown violation_type"),
    ],
)
def test_a_row_naming_what_its_measurements_do_not_have_fails_the_load(
    tmp_path: Path, row: str, error: str
) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(
        "schedule_version: 1\nsource: x\nrows:\n  - id: a\n    vehicle: motorbike\n"
        f"    {row}\n    text_vi: x\n    fine_basis: x\n    min_vnd: 1\n    max_vnd: 2\n    points: 0\n"
    )
    with pytest.raises(ConfigError, match=error):
        FineSchedule.load(p)


def test_the_committed_schedule_loads() -> None:
    assert len(FineSchedule.load().model.rows) >= 20


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


def test_a_passage_is_never_fined() -> None:
    passage = PassageMeasures(
        section_id="s1",
        track_id=3,
        crossing_utc="2026-01-01T00:00:00+00:00",
        crossing_stream_s=1.0,
        clock_uncertainty_s=0.05,
        timing_uncertainty_s=0.02,
        clock_source="camera wall time",
    )
    with pytest.raises(NoFineRule):
        default_schedule().choose(passage, "car")
