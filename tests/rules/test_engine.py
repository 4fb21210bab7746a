"""RuleEngine: deduplication, evidence frames, emission timing, track end, finish, the pipeline stage."""

from __future__ import annotations

import numpy as np
import pytest

from detector.measures import RedLightMeasures
from detector.rules.engine import EVIDENCE_AFTER_S, RuleEngine, run_tracks
from detector.signals import Phase, PhaseLogSignal, SignalState, signal_source_from_config
from detector.types import Frame, Track, ViolationType
from tests.rules.synthetic import path_track, reference_rules_config

SCHEDULE = PhaseLogSignal([(0.0, Phase.GREEN), (2.0, Phase.AMBER), (5.0, Phase.RED), (30.0, Phase.GREEN)])


def feed(engine, tracks, signal=lambda t: SignalState.unknown()):
    """Frame-by-frame feed that records at which frame each violation was emitted."""
    frames = sorted({p.frame_index: p.timestamp for t in tracks for p in t.points}.items())
    growing = {t.track_id: Track(t.track_id) for t in tracks}
    emitted = []
    for fi, ts in frames:
        active = []
        for t in tracks:
            for p in t.points:
                if p.frame_index == fi:
                    growing[t.track_id].append(p)
                    active.append(t.track_id)
        for v in engine.update(fi, ts, signal(ts), growing, active):
            emitted.append((fi, v))
    tail = engine.finish()
    return emitted, tail


def test_one_violation_per_vehicle_per_offence():
    # a car in the motorbike lane for 20 s: one lane-restriction violation, not one per frame
    engine = RuleEngine.from_config(reference_rules_config(), "cam1")
    emitted, tail = feed(engine, [path_track(1, [(0.0, 700, 780), (20.0, 700, 560)])])
    found = [v for _, v in emitted] + tail
    assert [v.violation_type for v in found] == [ViolationType.LANE_RESTRICTION]


def test_violation_emitted_after_its_after_frame_with_evidence_in_track():
    track = path_track(1, [(4.0, 300, 700), (7.0, 300, 400), (9.0, 300, 200)])
    engine = RuleEngine.from_config(reference_rules_config(), "cam1")
    emitted, tail = feed(engine, [track], lambda t: SCHEDULE.state_at(t))
    assert tail == []
    ((fi, v),) = [(fi, v) for fi, v in emitted if v.violation_type == ViolationType.RED_LIGHT]
    ev = v.evidence_frames
    frames = set(track.frame_indices().tolist())
    assert {ev.before, ev.at, ev.after} <= frames
    assert ev.before < ev.at < ev.after <= fi  # every evidence frame was seen when the violation was emitted
    assert fi / 25.0 >= v.timestamp + EVIDENCE_AFTER_S - 1e-9
    assert (fi / 25.0) - ev.before / 25.0 <= engine.max_evidence_age_s + 1e-9
    assert v.event_key == f"cam1:red_light:1:{v.frame_index}"


def test_finish_flushes_pending_findings():
    # the track ends right after the red-light crossing is proven: decided by finish()
    track = path_track(1, [(4.0, 300, 700), (7.0, 300, 400), (7.3, 300, 370)])
    engine = RuleEngine.from_config(reference_rules_config(), "cam1")
    emitted, tail = feed(engine, [track], lambda t: SCHEDULE.state_at(t))
    reds = [v for _, v in emitted if v.violation_type == ViolationType.RED_LIGHT] + [
        v for v in tail if v.violation_type == ViolationType.RED_LIGHT
    ]
    assert len(reds) == 1
    assert reds[0].evidence_frames.after == track.last.frame_index


def test_same_result_regardless_of_other_tracks():
    lone = path_track(1, [(4.0, 300, 700), (7.0, 300, 400), (9.0, 300, 200)])
    others = [
        path_track(10 + i, [(0.0, 150 + 30 * i, 780), (9.0, 150 + 30 * i, 500)], "motorcycle")
        for i in range(6)
    ]

    def reds(tracks):
        engine = RuleEngine.from_config(reference_rules_config(), "cam1")
        out = run_tracks(engine, tracks, lambda fi, ts: SCHEDULE.state_at(ts))
        return [
            (v.track_id, v.frame_index, v.evidence_frames)
            for v in out
            if v.violation_type == ViolationType.RED_LIGHT
        ]

    assert reds([lone]) == reds([lone, *others])


def test_rules_can_be_disabled():
    raw = reference_rules_config().model_dump()
    raw["rules"]["lane_restriction"]["enabled"] = False
    cfg = type(reference_rules_config()).model_validate(raw)
    engine = RuleEngine.from_config(cfg, "cam1")
    out = run_tracks(
        engine, [path_track(1, [(0.0, 700, 780), (20.0, 700, 560)])], lambda fi, ts: SignalState.unknown()
    )
    assert out == []


def test_history_is_trimmed():
    cfg = reference_rules_config(
        history_s=5.0, rules={"no_stopping": {"max_dwell_s": 3.0}, "speeding": {"default_limit_kmh": 50.0}}
    )
    engine = RuleEngine.from_config(cfg, "cam1")
    track = path_track(1, [(0.0, 300, 700), (30.0, 300, 690)])
    grow = Track(1)
    for p in track.points:
        grow.append(p)
        engine.update(p.frame_index, p.timestamp, SignalState.unknown(), {1: grow}, [1])
    state = engine._tracks[1]
    assert state.times[state.n - 1] - state.times[0] <= 5.0 + 64 / 25.0


def test_signal_from_frames_then_engine():
    raw = reference_rules_config().model_dump()
    raw["signal"] = {"source": "controller_plan", "plan": {"green_s": 2.0, "amber_s": 3.0, "red_s": 25.0}}
    cfg = type(reference_rules_config()).model_validate(raw)
    engine = RuleEngine.from_config(cfg, "cam1", (1000, 800))
    signal = signal_source_from_config(cfg.signal)
    last = SignalState.unknown()
    track = path_track(1, [(4.0, 300, 700), (7.0, 300, 400), (9.0, 300, 200)])
    grow = Track(1)
    out = []
    img = np.zeros((8, 8, 3), np.uint8)
    for f in range(0, track.last.frame_index + 1):
        pts = [p for p in track.points if p.frame_index == f]
        for p in pts:
            grow.append(p)
        frame = Frame(img, f, f / 25.0, "cam1")
        last = signal.update(frame)
        out += engine.update(frame.index, frame.timestamp, last, {1: grow}, [1] if pts else [])
    out += engine.finish()
    assert last.phase == Phase.RED
    assert [v.violation_type for v in out] == [ViolationType.RED_LIGHT]
    assert isinstance(out[0].measured, RedLightMeasures)
    assert out[0].measured.preceding_amber_s == pytest.approx(3.0)
