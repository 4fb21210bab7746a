"""Red light with a turn arrow (a lane may turn on the arrow), and which track classes the rules judge."""

from __future__ import annotations

import numpy as np
import pytest

from detector.config import ArrowConfig, LampConfig, RulesConfig
from detector.rules.engine import RuleEngine, run_tracks
from detector.signals import Phase, PhaseLogSignal, SignalState, VisionSignal
from detector.types import Frame, ViolationType
from tests.rules.synthetic import path_track, reference_rules_config

# green 0-2 s, amber 2-5 s, red 5-30 s; the right-turn arrow is lit from 5 s to 20 s
SCHEDULE = PhaseLogSignal([(0.0, Phase.GREEN), (2.0, Phase.AMBER), (5.0, Phase.RED), (30.0, Phase.GREEN)])
ARROW_ON = (5.0, 20.0)


def arrow_signal(fi: int, ts: float) -> SignalState:
    state = SCHEDULE.state_at(ts)
    lit = frozenset({"right"}) if ARROW_ON[0] <= ts < ARROW_ON[1] else frozenset()
    return SignalState(state.phase, state.since_s, state.time_into_red_s, state.preceding_amber_s, lit)


def arrow_cfg(lane_turns=("right",), **overrides) -> RulesConfig:
    base = reference_rules_config().model_dump()
    base["zones"]["lanes"][1]["turn_on_arrow"] = list(lane_turns)  # M1, the right lane (x 500..900)
    base["zones"]["arrow_exit_zones"] = [
        {"id": "R1", "polygon": [(860, 200), (1000, 200), (1000, 395), (860, 395)], "turn": "right"}
    ]
    base["signal"] = {
        "source": "vision",
        "lamps": [{"colour": "red", "box": (950, 10, 970, 30)}],
        "arrows": [{"turn": "right", "box": (950, 40, 970, 60)}],
    }
    base.update(overrides)
    return RulesConfig.model_validate(base)


def reds(tracks, cfg, signal=arrow_signal):
    engine = RuleEngine.from_config(cfg, "cam1")
    return [v for v in run_tracks(engine, tracks, signal) if v.violation_type == ViolationType.RED_LIGHT]


TURNS_RIGHT = [(6.0, 800, 700), (8.0, 800, 400), (8.6, 840, 370), (9.5, 950, 330), (10.0, 990, 320)]
STRAIGHT = [(6.0, 700, 700), (8.0, 700, 400), (11.5, 700, 60)]


def test_turn_on_the_lit_arrow_is_exempt_straight_on_is_not():
    turning = path_track(1, TURNS_RIGHT, "motorcycle")
    straight = path_track(2, STRAIGHT, "motorcycle")
    found = reds([turning, straight], arrow_cfg())
    assert [v.track_id for v in found] == [2]
    assert found[0].measured.arrow_lit == "right" and found[0].measured.lane_id == "M1"


def test_turn_after_the_arrow_went_dark_is_a_violation():
    late = [(t + 16.0, x, y) for t, x, y in TURNS_RIGHT]  # crosses at 24 s, arrow dark from 20 s
    found = reds([path_track(1, late, "motorcycle")], arrow_cfg())
    assert [v.track_id for v in found] == [1] and found[0].measured.arrow_lit is None


def test_lane_without_the_arrow_turn_is_not_exempt():
    # the same right turn from lane L1, which has no turn_on_arrow
    from_l1 = [(6.0, 450, 700), (8.0, 450, 400), (8.6, 600, 370), (9.5, 900, 330), (10.0, 990, 320)]
    found = reds([path_track(1, from_l1, "car")], arrow_cfg())
    assert [v.track_id for v in found] == [1]


def test_arrow_turn_needs_an_arrow_and_an_exit_zone():
    base = arrow_cfg().model_dump()
    no_arrow = {**base, "signal": {**base["signal"], "arrows": []}}
    with pytest.raises(ValueError, match="no 'right' arrow in signal.arrows"):
        RulesConfig.model_validate(no_arrow)
    no_zone = {**base, "zones": {**base["zones"], "arrow_exit_zones": []}}
    with pytest.raises(ValueError, match="no 'right' zone in zones.arrow_exit_zones"):
        RulesConfig.model_validate(no_zone)
    plan = {
        **base,
        "signal": {
            "source": "controller_plan",
            "plan": {"green_s": 5, "amber_s": 3, "red_s": 20},
            "arrows": [{"turn": "right", "box": (950, 40, 970, 60)}],
        },
    }
    with pytest.raises(ValueError, match="arrows are read by vision only"):
        RulesConfig.model_validate(plan)


def test_person_tracks_are_not_judged_by_default():
    runs_red = [(4.0, 300, 700), (7.0, 300, 400), (9.0, 300, 200)]
    rider = path_track(1, runs_red, "person")
    bike = path_track(2, [(t, x + 100, y) for t, x, y in runs_red], "car")
    default = reds([rider, bike], reference_rules_config(), lambda fi, ts: SCHEDULE.state_at(ts))
    assert [v.track_id for v in default] == [2]
    judged = reference_rules_config(vehicle_classes=["person", "car"])
    both = reds([rider, bike], judged, lambda fi, ts: SCHEDULE.state_at(ts))
    assert sorted(v.track_id for v in both) == [1, 2]
    with pytest.raises(ValueError, match="unknown classes"):
        reference_rules_config(vehicle_classes=["tram"])


def _head(red: bool, arrow: bool) -> np.ndarray:
    img = np.full((80, 100, 3), 40, np.uint8)
    if red:
        img[10:30, 70:90] = (0, 0, 255)  # BGR red lamp
    if arrow:
        img[45:52, 72:88] = (80, 255, 0)  # BGR green arrow glyph
    return img


def test_vision_reads_the_arrow_with_hysteresis():
    sig = VisionSignal(
        [LampConfig(colour="red", box=(70, 10, 90, 30))],
        3,
        140,
        0.15,
        [ArrowConfig(turn="right", box=(70, 40, 90, 60))],
    )
    seen = []
    pattern = [True] * 5 + [False] + [True] * 3 + [False] * 5  # one dark frame is a flicker
    for i, on in enumerate(pattern):
        seen.append(sig.update(Frame(_head(True, on), i, i / 30, "cam")).arrows)
    assert all(a == {"right"} for a in seen[:9])
    assert seen[-1] == frozenset() and seen[10] == {"right"}  # dark accepted after 3 frames
    assert sig.arrows_lit(_head(True, False)) == frozenset()
