"""Signal sources: hysteresis, amber-before-red bookkeeping, vision lamps, controller plan and log."""

from __future__ import annotations

import json
from typing import Any

import cv2
import numpy as np
import pytest

from detector.config import SignalConfig
from detector.errors import ConfigError
from detector.signals import (
    NoSignal,
    Phase,
    PhaseLogSignal,
    PhaseTracker,
    PlanSignal,
    VisionSignal,
    signal_source_from_config,
)
from detector.types import Frame

FPS = 25.0
G, A, R = Phase.GREEN, Phase.AMBER, Phase.RED


def feed(tracker, phases):
    return [tracker.observe(i / FPS, p) for i, p in enumerate(phases)]


def test_one_frame_flicker_does_not_change_phase():
    states = feed(PhaseTracker(3), [G] * 10 + [R] + [G] * 10 + [A, A] + [G] * 5)
    assert {s.phase for s in states[3:]} == {G}


def test_change_accepted_after_hysteresis_and_backdated():
    states = feed(PhaseTracker(3), [G] * 10 + [A] * 5)
    assert states[11].phase == G  # two amber frames: not yet
    assert states[12].phase == A
    assert states[12].since_s == pytest.approx(2 / FPS)  # back-dated to the first amber frame


def test_amber_then_red_records_amber_duration_and_time_into_red():
    seq = [G] * 25 + [A] * 75 + [R] * 50  # 1 s green, 3 s amber, 2 s red
    states = feed(PhaseTracker(3), seq)
    last = states[-1]
    assert last.phase == R
    assert last.preceding_amber_s == pytest.approx(3.0)
    assert last.time_into_red_s == pytest.approx(49 / FPS)
    assert states[80].time_into_red_s is None


def test_red_straight_after_green_has_zero_amber():
    states = feed(PhaseTracker(2), [G] * 20 + [R] * 20)
    assert states[-1].preceding_amber_s == 0.0


def test_amber_seen_from_stream_start_has_unknown_duration():
    states = feed(PhaseTracker(2), [A] * 20 + [R] * 20)
    assert states[-1].phase == R and states[-1].preceding_amber_s is None


def test_unknown_until_confirmed():
    states = feed(PhaseTracker(3), [R, R, R, R])
    assert states[0].phase == Phase.UNKNOWN and states[2].phase == R


LAMPS: list[dict[str, Any]] = [
    {"colour": "red", "box": (10, 10, 30, 30)},
    {"colour": "amber", "box": (10, 40, 30, 60)},
    {"colour": "green", "box": (10, 70, 30, 90)},
]
BGR = {"red": (30, 30, 250), "amber": (20, 190, 250), "green": (90, 230, 40)}


def head_image(lit: str | None) -> np.ndarray:
    img = np.full((100, 40, 3), 25, np.uint8)
    for lamp in LAMPS:
        x1, y1, x2, y2 = lamp["box"]
        colour = BGR[lamp["colour"]] if lamp["colour"] == lit else (40, 40, 40)
        cv2.circle(img, ((x1 + x2) // 2, (y1 + y2) // 2), 8, colour, -1)
    return img


def vision(h=3) -> VisionSignal:
    cfg = SignalConfig.model_validate({"source": "vision", "lamps": LAMPS, "hysteresis_frames": h})
    src = signal_source_from_config(cfg)
    assert isinstance(src, VisionSignal)
    return src


@pytest.mark.parametrize("lit,expected", [("red", R), ("amber", A), ("green", G), (None, Phase.UNKNOWN)])
def test_vision_classifies_lit_lamp(lit, expected):
    assert vision().classify(head_image(lit)) == expected


def test_vision_hysteresis_over_frames():
    src = vision(3)
    seq = ["green"] * 10 + ["red"] + ["green"] * 5 + ["amber"] * 30 + ["red"] * 10
    states = [src.update(Frame(head_image(c), i, i / FPS, "cam")) for i, c in enumerate(seq)]
    assert states[12].phase == G  # the one-frame red flicker was ignored
    assert states[-1].phase == R
    assert states[-1].preceding_amber_s == pytest.approx(30 / FPS)


def test_plan_signal_phases():
    cfg = SignalConfig.model_validate(
        {"source": "controller_plan", "plan": {"green_s": 20, "amber_s": 3, "red_s": 27, "offset_s": 5}}
    )
    assert cfg.plan is not None
    plan = PlanSignal(cfg.plan)
    assert plan.state_at(5.0).phase == G
    assert plan.state_at(26.0).phase == A
    s = plan.state_at(30.0)
    assert s.phase == R and s.time_into_red_s == pytest.approx(2.0) and s.preceding_amber_s == 3.0
    assert plan.state_at(55.0).phase == G  # next cycle (50 s)
    assert plan.state_at(4.0).phase == R  # before the offset: the previous cycle's red


def test_phase_log_csv_and_jsonl(tmp_path):
    csv_path = tmp_path / "phases.csv"
    csv_path.write_text("timestamp,phase\n0,green\n10,amber\n13,red\n40,green\n")
    jsonl_path = tmp_path / "phases.jsonl"
    jsonl_path.write_text(
        "\n".join(
            json.dumps({"timestamp": t, "phase": p}) for t, p in [(0, "green"), (10, "amber"), (13, "red")]
        )
    )
    for path in (csv_path, jsonl_path):
        src = signal_source_from_config(
            SignalConfig(source="controller_file", file=path.name), base_dir=tmp_path
        )
        assert isinstance(src, PhaseLogSignal)
        s = src.update(Frame(np.zeros((4, 4, 3), np.uint8), 0, 15.0, "cam"))
        assert (
            s.phase == R
            and s.time_into_red_s == pytest.approx(2.0)
            and s.preceding_amber_s == pytest.approx(3.0)
        )
        assert src.state_at(-1.0).phase == Phase.UNKNOWN


def test_phase_log_bad_row_names_file(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("timestamp,phase\n0,green\nx,red\n")
    with pytest.raises(ConfigError, match="bad.csv"):
        PhaseLogSignal.from_file(p)


def test_config_requires_parts_per_source():
    with pytest.raises(ValueError, match="needs signal.plan"):
        SignalConfig(source="controller_plan")
    with pytest.raises(ValueError, match="red"):
        SignalConfig.model_validate({"source": "vision", "lamps": [{"colour": "green", "box": (0, 0, 5, 5)}]})


def test_no_signal_is_unknown():
    s = NoSignal().update(Frame(np.zeros((4, 4, 3), np.uint8), 0, 0.0, "cam"))
    assert s.phase == Phase.UNKNOWN and s.time_into_red_s is None


def test_short_dark_spell_keeps_phase_and_timing():
    # 1 s green, 3 s amber, red; then 6 dark frames (LED flicker / occlusion) in the red
    seq = [G] * 25 + [A] * 75 + [R] * 25 + [Phase.UNKNOWN] * 6 + [R] * 25
    states = feed(PhaseTracker(3), seq)
    assert all(s.phase == R for s in states[103:])
    assert states[-1].time_into_red_s == pytest.approx((len(seq) - 1 - 100) / FPS)
    assert states[-1].preceding_amber_s == pytest.approx(3.0)


def test_long_dark_spell_becomes_unknown():
    states = feed(PhaseTracker(3), [R] * 10 + [Phase.UNKNOWN] * 20)
    assert states[-1].phase == Phase.UNKNOWN
