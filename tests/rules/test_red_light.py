"""Red-light and stop-line rules on synthetic tracks (reference scene: stop line S1 at y=400, traffic up)."""

from __future__ import annotations

import pytest

from detector.rules.engine import RuleEngine, run_tracks
from detector.signals import Phase, PhaseLogSignal
from detector.types import ViolationType
from tests.rules.synthetic import path_track, reference_rules_config

# green 0-2 s, amber 2-5 s, red 5-30 s, green after
SCHEDULE = PhaseLogSignal([(0.0, Phase.GREEN), (2.0, Phase.AMBER), (5.0, Phase.RED), (30.0, Phase.GREEN)])


def run(tracks, cfg=None, schedule=SCHEDULE):
    engine = RuleEngine.from_config(cfg or reference_rules_config(), "cam1")
    return run_tracks(engine, tracks, lambda fi, ts: schedule.state_at(ts))


def of_type(violations, vtype):
    return [v for v in violations if v.violation_type == vtype]


RUNS_RED = [(4.0, 300, 700), (7.0, 300, 400), (9.0, 300, 200)]

CASES = [
    # (name, waypoints, class, track kwargs, expected red-light count)
    ("runs red well after it began", RUNS_RED, "car", {}, 1),
    (
        "crossed during amber (past the line when red began)",
        [(2.0, 300, 700), (4.5, 300, 400), (6.5, 300, 200)],
        "car",
        {},
        0,
    ),
    (
        "on the line when red began, proceeds later",
        [(1.0, 300, 700), (4.9, 300, 401), (8.0, 300, 401), (9.0, 300, 250)],
        "car",
        {},
        0,
    ),
    (
        "crosses inside the grace time",
        [(4.0, 300, 460), (5.3, 300, 405), (5.6, 300, 380), (7.0, 300, 200)],
        "car",
        {},
        0,
    ),
    ("stops before the line", [(4.0, 300, 700), (6.0, 300, 420), (20.0, 300, 420)], "car", {}, 0),
    ("lost while crossing and re-found (same id)", RUNS_RED, "car", {"drop": [(6.5, 7.6)]}, 1),
    (
        "jitter while waiting at the line",
        [(4.0, 300, 600), (5.0, 300, 402), (25.0, 300, 402)],
        "car",
        {"jitter_px": 3.0},
        0,
    ),
    ("crosses beside the line's end", [(4.0, 950, 700), (7.0, 950, 400), (9.0, 950, 200)], "car", {}, 0),
    ("green all along", [(30.5, 300, 700), (33.0, 300, 400), (35.0, 300, 200)], "car", {}, 0),
]


@pytest.mark.parametrize("name,waypoints,cls,kwargs,expected", CASES, ids=[c[0] for c in CASES])
def test_red_light_table(name, waypoints, cls, kwargs, expected):
    violations = run([path_track(1, waypoints, cls, **kwargs)])
    assert len(of_type(violations, ViolationType.RED_LIGHT)) == expected, name


def test_red_light_measures_and_evidence():
    (v,) = of_type(run([path_track(1, RUNS_RED)]), ViolationType.RED_LIGHT)
    assert v.zone_id == "S1" and v.track_id == 1 and v.vehicle_class == "car"
    assert v.measured.phase == "red"
    assert v.measured.preceding_amber_s == pytest.approx(3.0)
    # crossing at t=7.0 -> 2.0 s into red (first frame past the line)
    assert v.measured.time_into_red_s == pytest.approx(2.04, abs=0.05)
    assert v.measured.lane_id == "L1"
    ev = v.evidence_frames
    assert ev.before < ev.at < ev.after
    assert v.frame_index == ev.at == 177  # first frame clearly past the line (y=392 < 400 - tolerance)
    assert v.rule_version.startswith("red_light/")


def test_lost_and_refound_under_new_id_is_not_accused():
    first = path_track(7, [(4.0, 300, 700), (6.8, 300, 430)])
    second = path_track(8, [(7.2, 300, 380), (9.0, 300, 200)])
    assert of_type(run([first, second]), ViolationType.RED_LIGHT) == []


def test_red_following_green_without_amber_records_zero_amber():
    sched = PhaseLogSignal([(0.0, Phase.GREEN), (5.0, Phase.RED)])
    (v,) = of_type(run([path_track(1, RUNS_RED)], schedule=sched), ViolationType.RED_LIGHT)
    assert v.measured.preceding_amber_s == 0.0


def test_min_preceding_amber_skips_short_amber():
    cfg = reference_rules_config(
        rules={"red_light": {"min_preceding_amber_s": 3.5}, "speeding": {"default_limit_kmh": 50}}
    )
    assert of_type(run([path_track(1, RUNS_RED)], cfg), ViolationType.RED_LIGHT) == []


def _rtor_cfg(lane_rtor: bool, zones: bool):
    base = reference_rules_config().model_dump()
    base["zones"]["lanes"][0]["right_turn_on_red"] = lane_rtor
    if zones:
        base["zones"]["right_turn_zones"] = [
            {"id": "R1", "polygon": [(860, 200), (1000, 200), (1000, 395), (860, 395)]}
        ]
    return type(reference_rules_config()).model_validate(base)


def test_right_turn_on_red_allowed_per_lane():
    cfg = _rtor_cfg(lane_rtor=True, zones=False)
    car_l1 = path_track(1, RUNS_RED)  # lane L1 allows right turn on red
    moto_m1 = path_track(2, [(4.0, 700, 700), (7.0, 700, 400), (9.0, 700, 200)], "motorcycle")
    reds = of_type(run([car_l1, moto_m1], cfg), ViolationType.RED_LIGHT)
    assert [v.track_id for v in reds] == [2]


def test_right_turn_on_red_by_exit_zone():
    cfg = _rtor_cfg(lane_rtor=False, zones=True)
    turning = path_track(
        1, [(4.0, 800, 700), (7.0, 800, 400), (7.6, 840, 370), (8.5, 950, 330), (9.0, 990, 320)], "motorcycle"
    )
    straight = path_track(2, [(4.0, 700, 700), (7.0, 700, 400), (10.5, 700, 60)], "motorcycle")
    reds = of_type(run([turning, straight], cfg), ViolationType.RED_LIGHT)
    assert [v.track_id for v in reds] == [2]


def test_pending_right_turn_decided_at_finish():
    cfg = _rtor_cfg(lane_rtor=False, zones=True)
    # crosses on red, track ends 0.6 s later (before the decision time): decided at the track's end
    short = path_track(3, [(4.0, 700, 700), (7.0, 700, 400), (7.6, 700, 340)], "motorcycle")
    reds = of_type(run([short], cfg), ViolationType.RED_LIGHT)
    assert [v.track_id for v in reds] == [3]


STOP_CASES = [
    ("stops over the line on red", [(4.0, 300, 700), (6.0, 300, 420), (6.5, 300, 385), (12.0, 300, 385)], 1),
    ("stops behind the line", [(4.0, 300, 700), (6.0, 300, 410), (12.0, 300, 410)], 0),
    ("already over the line when red began", [(2.0, 300, 700), (4.0, 300, 385), (12.0, 300, 385)], 0),
    (
        "brief pause over the line",
        [(4.0, 300, 700), (6.0, 300, 420), (6.5, 300, 385), (7.5, 300, 385), (9.0, 300, 200)],
        0,
    ),
]


@pytest.mark.parametrize("name,waypoints,expected", STOP_CASES, ids=[c[0] for c in STOP_CASES])
def test_stop_line_table(name, waypoints, expected):
    violations = run([path_track(1, waypoints)])
    stops = of_type(violations, ViolationType.STOP_LINE)
    assert len(stops) == expected, name
    if expected:
        assert stops[0].measured.stopped_s >= 2.0
        assert stops[0].measured.distance_past_line_px == pytest.approx(15.0, abs=1.0)
