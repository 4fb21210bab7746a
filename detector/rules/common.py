"""What every rule shares: a track as arrays, a rule's finding, the signal history.

Rules are pure functions `check(view, scene, signals, cfg, final) -> list[Finding]`: given the
history of one track (as arrays), the scene's zones, the signal states of past frames and the
rule's settings, they say which offences that history proves. They keep no state; the engine
decides when to call them, deduplicates and turns findings into `Violation`s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detector.geometry import PointFeatures, Scene
from detector.measures import ViolationMeasures
from detector.signals import SignalState
from detector.types import COCO_ROAD_USERS, Track, ViolationType, majority

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class TrackView:
    """One track's history as arrays (time order): what the rules read."""

    track_id: int
    vehicle_class: str
    class_agreement: float
    frames: I64
    times: F64
    anchors: F64
    feat: PointFeatures

    def __len__(self) -> int:
        return len(self.frames)

    @classmethod
    def from_track(cls, track: Track, scene: Scene) -> TrackView:
        return cls.from_points(
            track.track_id,
            [p.frame_index for p in track.points],
            [p.timestamp for p in track.points],
            [p.anchor for p in track.points],
            [p.class_id for p in track.points],
            scene,
        )

    @classmethod
    def from_points(
        cls,
        track_id: int,
        frames: Sequence[int],
        times: Sequence[float],
        anchors: Sequence[tuple[float, float]],
        class_ids: Sequence[int],
        scene: Scene,
    ) -> TrackView:
        if len(class_ids):
            class_id, agreement = majority(int(c) for c in class_ids)
            name = COCO_ROAD_USERS.get(class_id, "unknown")
        else:
            name, agreement = "unknown", 0.0
        xy = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
        return cls(
            track_id=track_id,
            vehicle_class=name,
            class_agreement=agreement,
            frames=np.asarray(frames, dtype=np.int64),
            times=np.asarray(times, dtype=np.float64),
            anchors=xy,
            feat=scene.features(xy),
        )

    def tail(self, seconds: float) -> TrackView:
        """The last `seconds` of history."""
        if not len(self):
            return self
        i0 = int(np.searchsorted(self.times, self.times[-1] - seconds, side="left"))
        if i0 == 0:
            return self
        return TrackView(
            self.track_id,
            self.vehicle_class,
            self.class_agreement,
            self.frames[i0:],
            self.times[i0:],
            self.anchors[i0:],
            self.feat.take(slice(i0, None)),
        )


@dataclass(frozen=True, slots=True)
class Finding:
    """An offence a rule proved from a track's history.

    Indices are frame indices: `before` shows the vehicle before the decisive moment, `at` the moment,
    `after` (optional) a frame that completes the proof (e.g. the vehicle well past the line).
    """

    violation_type: ViolationType
    zone_id: str | None
    before: int
    at: int
    at_time: float
    measured: ViolationMeasures
    after: int | None = None


class SignalHistory:
    """Signal states by frame index (the engine records one per frame)."""

    def __init__(self, states: Mapping[int, SignalState] | None = None) -> None:
        self._states: dict[int, SignalState] = dict(states or {})

    def record(self, frame_index: int, state: SignalState) -> None:
        self._states[frame_index] = state

    def at_frame(self, frame_index: int) -> SignalState | None:
        return self._states.get(frame_index)

    def prune_before(self, frame_index: int) -> None:
        for k in [k for k in self._states if k < frame_index]:
            del self._states[k]

    def __len__(self) -> int:
        return len(self._states)


def runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """(start, end_inclusive) of each run of True values."""
    if not len(mask):
        return []
    m = np.concatenate([[False], mask.astype(bool), [False]])
    d = np.diff(m.astype(np.int8))
    starts = np.nonzero(d == 1)[0]
    ends = np.nonzero(d == -1)[0] - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def split_on_gaps(times: F64, max_gap_s: float) -> npt.NDArray[np.bool_]:
    """True at index i when the time since index i-1 exceeds `max_gap_s` (a break in observation)."""
    brk = np.zeros(len(times), dtype=bool)
    if len(times) > 1:
        brk[1:] = np.diff(times) > max_gap_s
    return brk
