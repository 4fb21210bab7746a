"""The rule engine: per-track history, rules every frame, deduplication, evidence frames.

Call `update(...)` once per frame with the signal state and the tracker's tracks, then `finish()` at
the end of the stream. Each rule is a pure function of a track's history (see `common.py`); the
engine holds the state: the last `history_s` of every track as arrays, the signal history, the
findings waiting for their 'after' frame, and what was already reported.

Evidence frames (the choice made here): a rule proves an offence at frame `at`. The engine emits the
violation once the track has been seen `EVIDENCE_AFTER_S` (0.5 s) after `at` (or when the track
ends: unseen for `TRACK_END_S`, or at `finish()`), so `before`, `at` and `after` are all frames already seen when the violation is
emitted; the evidence ring buffer must keep `evidence_lookback_s + EVIDENCE_AFTER_S` of frames
(`RuleEngine.max_evidence_age_s`). `before` is clamped to at most `evidence_lookback_s` before the
emission. One violation per (track, type) within `dedup_window_s`. Only tracks whose majority class
is in `vehicle_classes` are judged (by default not `person`: a pedestrian, or a rider whose motorbike
is its own track).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from detector.config import RulesConfig
from detector.geometry import PointFeatures, Scene
from detector.rules import lanes, no_stopping, red_light, speeding
from detector.rules.common import Finding, SignalHistory, TrackView
from detector.signals import SignalState
from detector.types import (
    COCO_ROAD_USERS,
    EvidenceFrames,
    Track,
    TrackPoint,
    Violation,
    ViolationType,
)

log = logging.getLogger(__name__)

#: Seconds a violation waits after its decisive frame so the 'after' evidence frame exists.
EVIDENCE_AFTER_S = 0.5
#: A track unseen this long is treated as ended (pending decisions are made with what was seen).
TRACK_END_S = 2.0

RuleFn = Callable[[TrackView, Scene, SignalHistory, Any, bool], list[Finding]]


@dataclass(frozen=True, slots=True)
class RuleSpec:
    violation_type: ViolationType
    version: str
    check: RuleFn
    settings: Any
    horizon_s: float | None = None  # history the rule needs; None = all kept history


def rule_specs(cfg: RulesConfig) -> list[RuleSpec]:
    """The enabled rules of a config, in a fixed order."""
    r = cfg.rules
    specs = [
        RuleSpec(
            ViolationType.RED_LIGHT,
            red_light.RULE_VERSION,
            red_light.check_red_light,
            r.red_light,
            red_light.CROSSING_HORIZON_S + r.red_light.right_turn_decision_s,
        ),
        RuleSpec(
            ViolationType.STOP_LINE,
            red_light.STOP_LINE_RULE_VERSION,
            red_light.check_stop_line,
            r.stop_line,
            red_light.CROSSING_HORIZON_S + r.stop_line.min_stopped_s,
        ),
        RuleSpec(
            ViolationType.LANE_RESTRICTION,
            lanes.LANE_RULE_VERSION,
            lanes.check_lane_restriction,
            r.lane_restriction,
            r.lane_restriction.min_duration_s + r.lane_restriction.max_gap_s + 1.0,
        ),
        RuleSpec(
            ViolationType.SOLID_LINE,
            lanes.SOLID_LINE_RULE_VERSION,
            lanes.check_solid_line,
            r.solid_line,
            10.0,
        ),
        RuleSpec(
            ViolationType.WRONG_WAY,
            lanes.WRONG_WAY_RULE_VERSION,
            lanes.check_wrong_way,
            r.wrong_way,
            r.wrong_way.window_s + r.wrong_way.min_duration_s + 1.0,
        ),
        RuleSpec(ViolationType.SPEEDING, speeding.RULE_VERSION, speeding.check_speeding, r.speeding),
        RuleSpec(
            ViolationType.NO_STOPPING, no_stopping.RULE_VERSION, no_stopping.check_no_stopping, r.no_stopping
        ),
    ]
    return [s for s in specs if s.settings.enabled]


class _TrackState:
    """A track's recent history in growable numpy buffers (with the scene's per-point features,
    computed once per point), and running class counts."""

    __slots__ = ("n", "frames", "times", "anchors", "feat", "class_counts")

    def __init__(self) -> None:
        self.n = 0
        self.frames = np.zeros(0, np.int64)
        self.times = np.zeros(0, np.float64)
        self.anchors = np.zeros((0, 2), np.float64)
        self.feat: list[np.ndarray] = []
        self.class_counts: dict[int, int] = {}

    def new_points(self, track: Track) -> list[TrackPoint]:
        last = int(self.frames[self.n - 1]) if self.n else -1
        new = []
        for p in reversed(track.points):
            if p.frame_index <= last:
                break
            new.append(p)
        new.reverse()
        return new

    def add(self, new: Sequence[TrackPoint], xy: np.ndarray, f: PointFeatures) -> None:
        if not new:
            return
        cols = [getattr(f, name) for name in PointFeatures.__slots__]
        m = len(new)
        if self.n + m > len(self.frames):
            cap = max(2 * len(self.frames), self.n + m, 64)
            self.frames = _grow(self.frames, cap)
            self.times = _grow(self.times, cap)
            self.anchors = _grow(self.anchors, cap)
            self.feat = [_grow(b, cap) for b in self.feat] if self.feat else [_grow(c[:0], cap) for c in cols]
        sl = slice(self.n, self.n + m)
        self.frames[sl] = [p.frame_index for p in new]
        self.times[sl] = [p.timestamp for p in new]
        self.anchors[sl] = xy
        for buf, col in zip(self.feat, cols, strict=True):
            buf[sl] = col
        for p in new:
            self.class_counts[p.class_id] = self.class_counts.get(p.class_id, 0) + 1
        self.n += m

    @property
    def last_time(self) -> float:
        return float(self.times[self.n - 1]) if self.n else float("-inf")

    def trim(self, horizon_t: float) -> None:
        if self.n > 64 and self.times[0] < horizon_t:
            i = int(np.searchsorted(self.times[: self.n], horizon_t))
            keep = self.n - i
            for buf in (self.frames, self.times, self.anchors, *self.feat):
                buf[:keep] = buf[i : self.n]
            self.n = keep

    def view(self, track_id: int) -> TrackView:
        total = sum(self.class_counts.values())
        cid, count = max(self.class_counts.items(), key=lambda kv: (kv[1], -kv[0])) if total else (-1, 0)
        n = self.n
        return TrackView(
            track_id=track_id,
            vehicle_class=COCO_ROAD_USERS.get(cid, "unknown"),
            class_agreement=count / total if total else 0.0,
            # views into the buffers: valid until the next add/trim (rules keep no reference)
            frames=self.frames[:n],
            times=self.times[:n],
            anchors=self.anchors[:n],
            feat=PointFeatures(*(b[:n] for b in self.feat)),
        )


def _grow(arr: np.ndarray, cap: int) -> np.ndarray:
    out = np.zeros((cap, *arr.shape[1:]), dtype=arr.dtype)
    out[: len(arr)] = arr
    return out


Key = tuple[int, ViolationType]


class RuleEngine:
    """Holds per-track state and applies the configured rules frame by frame."""

    def __init__(self, scene: Scene, cfg: RulesConfig, camera_id: str) -> None:
        self.scene = scene
        self.cfg = cfg
        self.camera_id = camera_id
        self.specs = rule_specs(cfg)
        self._versions = {s.violation_type: s.version for s in self.specs}
        self._judged = frozenset(cfg.vehicle_classes)
        self.signals = SignalHistory()
        self._tracks: dict[int, _TrackState] = {}
        self._pending: dict[Key, Finding] = {}
        self._emitted: dict[Key, float] = {}
        self._last_time = 0.0

    @classmethod
    def from_config(
        cls, rules: RulesConfig, camera_id: str, image_size: tuple[int, int] | None = None
    ) -> RuleEngine:
        return cls(Scene.from_config(rules, image_size), rules, camera_id)

    @property
    def max_evidence_age_s(self) -> float:
        """How far back (s) from the emitting frame the evidence frames can lie."""
        return self.cfg.evidence_lookback_s + EVIDENCE_AFTER_S

    def update(
        self,
        frame_index: int,
        timestamp: float,
        signal: SignalState,
        tracks: Mapping[int, Track],
        active_ids: Collection[int],
    ) -> list[Violation]:
        """Apply the rules after one frame; returns the violations decided at this frame."""
        self._last_time = timestamp
        self.signals.record(frame_index, signal)
        horizon = timestamp - self.cfg.history_s
        out: list[Violation] = []
        batch: list[tuple[int, _TrackState, list[TrackPoint]]] = []
        for tid in sorted(active_ids):
            track = tracks.get(tid)
            if track is None or not track.points:
                continue
            st = self._tracks.setdefault(tid, _TrackState())
            batch.append((tid, st, st.new_points(track)))
        # the scene's per-point features for every new point of this frame in one vectorized pass
        xy = np.array([p.anchor for _, _, new in batch for p in new], dtype=np.float64).reshape(-1, 2)
        feat = self.scene.features(xy)
        pos = 0
        for tid, st, new in batch:
            m = len(new)
            st.add(new, xy[pos : pos + m], feat.take(slice(pos, pos + m)))
            pos += m
            st.trim(horizon)
            if st.n:
                out.extend(self._evaluate(tid, st, final=False, now=timestamp))
        for tid in [t for t, st in self._tracks.items() if timestamp - st.last_time > TRACK_END_S]:
            out.extend(self._end_track(tid, timestamp))
        if frame_index % 100 == 0:
            oldest = min((int(st.frames[0]) for st in self._tracks.values() if st.n), default=frame_index)
            self.signals.prune_before(oldest)
            self._emitted = {
                k: t for k, t in self._emitted.items() if timestamp - t <= self.cfg.dedup_window_s
            }
        return out

    def finish(self) -> list[Violation]:
        """End of stream: decide every pending finding with the frames seen."""
        out: list[Violation] = []
        for tid in sorted(self._tracks):
            out.extend(self._end_track(tid, self._last_time))
        return out

    def _end_track(self, tid: int, now: float) -> list[Violation]:
        st = self._tracks.pop(tid)
        if not st.n:
            return []
        return self._evaluate(tid, st, final=True, now=now)

    def _evaluate(self, tid: int, st: _TrackState, final: bool, now: float) -> list[Violation]:
        view = st.view(tid)
        specs = self.specs if view.vehicle_class in self._judged else []
        for spec in specs:
            part = view.tail(spec.horizon_s) if spec.horizon_s is not None else view
            for f in spec.check(part, self.scene, self.signals, spec.settings, final):
                key = (tid, f.violation_type)
                if key in self._pending:
                    continue
                last = self._emitted.get(key)
                if last is not None and f.at_time - last <= self.cfg.dedup_window_s:
                    continue
                self._pending[key] = f
        out: list[Violation] = []
        for key in [k for k in self._pending if k[0] == tid]:
            f = self._pending[key]
            ready_t = f.at_time + EVIDENCE_AFTER_S
            if not final and view.times[-1] < ready_t:
                continue
            del self._pending[key]
            self._emitted[key] = f.at_time
            out.append(self._to_violation(f, view, tid))
        out.sort(key=lambda v: (v.frame_index, v.violation_type.value))
        return out

    def _to_violation(self, f: Finding, view: TrackView, tid: int) -> Violation:
        i_after = int(np.searchsorted(view.times, f.at_time + EVIDENCE_AFTER_S))
        after = int(view.frames[min(i_after, len(view) - 1)])
        if f.after is not None:
            after = max(after, f.after)
        emit_t = float(view.times[-1])
        i_before = int(np.searchsorted(view.times, emit_t - self.cfg.evidence_lookback_s))
        before = max(f.before, int(view.frames[min(i_before, len(view) - 1)]))
        before = min(before, f.at)
        return Violation(
            violation_type=f.violation_type,
            camera_id=self.camera_id,
            track_id=tid,
            vehicle_class=view.vehicle_class,
            frame_index=f.at,
            timestamp=f.at_time,
            evidence_frames=EvidenceFrames(before=before, at=f.at, after=max(after, f.at)),
            measured=f.measured,
            rule_version=self._versions[f.violation_type],
            zone_id=f.zone_id,
        )


def run_tracks(
    engine: RuleEngine,
    tracks: Sequence[Track],
    signal_at: Callable[[int, float], SignalState],
) -> list[Violation]:
    """Replay complete track histories frame by frame through the engine (tests, offline review).

    `signal_at(frame_index, timestamp)` gives the signal state of each frame.
    """
    frames: dict[int, float] = {}
    for t in tracks:
        for p in t.points:
            frames[p.frame_index] = p.timestamp
    growing = {t.track_id: Track(t.track_id) for t in tracks}
    by_frame: dict[int, list[tuple[int, Any]]] = {}
    for t in tracks:
        for p in t.points:
            by_frame.setdefault(p.frame_index, []).append((t.track_id, p))
    out: list[Violation] = []
    for fi in sorted(frames):
        ts = frames[fi]
        active = []
        for tid, p in by_frame.get(fi, []):
            growing[tid].append(p)
            active.append(tid)
        out.extend(engine.update(fi, ts, signal_at(fi, ts), growing, active))
    out.extend(engine.finish())
    return out
