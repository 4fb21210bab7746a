"""Core frame-level types shared by every stage.

`Detections` follows supervision's design: parallel numpy arrays validated on construction,
filtered with a boolean mask or an index array. Vendor adapters (onnxruntime, Ultralytics,
the tracker library) convert to and from it outside this module.

Time travels with the frame: `Frame.timestamp` is seconds since the start of the stream, taken
from the container's PTS or from the configured frame rate, never from the wall clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from detector.classes import COCO_ROAD_USERS as COCO_ROAD_USERS  # re-exported: used with the types
from detector.classes import VEHICLE_CLASSES as VEHICLE_CLASSES
from detector.measures import ViolationMeasures

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

_V = TypeVar("_V", bound=Hashable)


def majority(values: Iterable[_V] | Mapping[_V, int]) -> tuple[_V, float]:
    """The most frequent value and its share of all votes (a track's class over its frames).

    `values` are the votes, or counts by value already kept. A tie goes to the smallest value (COCO
    ids: car before motorcycle before bus; names: alphabetical), so the answer never depends on the
    order the votes came in. Raises ValueError on no vote."""
    counts = values if isinstance(values, Mapping) else Counter(values)
    total = sum(counts.values())
    if not counts or total <= 0:
        raise ValueError("majority of no votes")
    best, n = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return best, n / total


class ShapeError(ValueError):
    """An array handed to a core type has the wrong shape or length."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded image with the time and position it came from.

    `timestamp` is seconds from the start of the stream (PTS or index / fps). `wall_time` is the
    epoch time of capture when the source knows it (a live camera); replays leave it None.
    """

    image: np.ndarray  # (H, W, 3) uint8 BGR
    index: int
    timestamp: float
    source_id: str
    timestamp_source: str = "pts"
    wall_time: float | None = None

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3:
            raise ShapeError(f"Frame.image: expected (H, W, 3) BGR, got shape {self.image.shape}")
        if self.image.dtype != np.uint8:
            raise ShapeError(f"Frame.image: expected dtype uint8, got {self.image.dtype}")
        if self.index < 0:
            raise ValueError(f"Frame.index: expected >= 0, got {self.index}")

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


def _check_len(name: str, arr: np.ndarray, n: int) -> None:
    if len(arr) != n:
        raise ShapeError(f"Detections.{name}: expected length {n} (as xyxy), got {len(arr)}")


@dataclass(slots=True)
class Detections:
    """Detections of one frame as parallel arrays.

    xyxy: (N, 4) float32 pixel boxes; confidence: (N,) float32; class_id: (N,) int64 (COCO ids);
    tracker_id: (N,) int64, -1 when not yet tracked; data: extra per-detection arrays of length N.
    """

    xyxy: FloatArray
    confidence: FloatArray
    class_id: IntArray
    tracker_id: IntArray | None = None
    data: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32)
        if self.xyxy.ndim == 1 and self.xyxy.size == 0:
            self.xyxy = self.xyxy.reshape(0, 4)
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ShapeError(f"Detections.xyxy: expected shape (N, 4), got {self.xyxy.shape}")
        n = len(self.xyxy)
        self.confidence = np.asarray(self.confidence, dtype=np.float32).reshape(-1)
        self.class_id = np.asarray(self.class_id, dtype=np.int64).reshape(-1)
        _check_len("confidence", self.confidence, n)
        _check_len("class_id", self.class_id, n)
        if self.tracker_id is None:
            self.tracker_id = np.full(n, -1, dtype=np.int64)
        else:
            self.tracker_id = np.asarray(self.tracker_id, dtype=np.int64).reshape(-1)
            _check_len("tracker_id", self.tracker_id, n)
        for key, value in self.data.items():
            arr = np.asarray(value)
            _check_len(f"data[{key!r}]", arr, n)
            self.data[key] = arr

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            xyxy=np.zeros((0, 4), np.float32),
            confidence=np.zeros(0, np.float32),
            class_id=np.zeros(0, np.int64),
        )

    @property
    def predicted(self) -> npt.NDArray[np.bool_]:
        """Per row: carried by the tracker's prediction rather than detected (all False if unknown)."""
        flags = self.data.get("predicted")
        return np.zeros(len(self), dtype=bool) if flags is None else flags.astype(bool)

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(
        self, index: npt.NDArray[np.bool_] | npt.NDArray[np.integer[Any]] | slice | int
    ) -> Detections:
        """Filter by a boolean mask of length N, an index array, a slice or one index."""
        if isinstance(index, int):
            index = np.array([index])
        if isinstance(index, np.ndarray) and index.dtype == np.bool_ and len(index) != len(self):
            raise ShapeError(f"Detections mask: expected length {len(self)}, got {len(index)}")
        assert self.tracker_id is not None
        return Detections(
            xyxy=self.xyxy[index],
            confidence=self.confidence[index],
            class_id=self.class_id[index],
            tracker_id=self.tracker_id[index],
            data={k: v[index] for k, v in self.data.items()},
        )

    @property
    def bottom_center(self) -> FloatArray:
        """(N, 2) bottom-centre points: where a vehicle touches the road, the rules' reference point."""
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, self.xyxy[:, 3]], axis=1).astype(np.float32)

    @property
    def area(self) -> FloatArray:
        return ((self.xyxy[:, 2] - self.xyxy[:, 0]) * (self.xyxy[:, 3] - self.xyxy[:, 1])).astype(np.float32)

    def class_names(self) -> list[str]:
        return [COCO_ROAD_USERS.get(int(c), str(int(c))) for c in self.class_id]

    @classmethod
    def merge(cls, parts: Sequence[Detections]) -> Detections:
        if not parts:
            return cls.empty()
        keys = set.intersection(*(set(p.data) for p in parts))  # keep the fields every part has
        return cls(
            xyxy=np.concatenate([p.xyxy for p in parts]),
            confidence=np.concatenate([p.confidence for p in parts]),
            class_id=np.concatenate([p.class_id for p in parts]),
            tracker_id=np.concatenate([p.tracker_id for p in parts if p.tracker_id is not None]),
            data={k: np.concatenate([p.data[k] for p in parts]) for k in keys},
        )


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """One observation of a track: where the box was, at which frame and stream time."""

    frame_index: int
    timestamp: float
    xyxy: tuple[float, float, float, float]
    confidence: float
    class_id: int
    predicted: bool = False  # carried by the tracker's motion between two detections, not detected

    @property
    def anchor(self) -> tuple[float, float]:
        """Bottom-centre of the box (the wheel contact point seen from a pole camera)."""
        x1, _, x2, y2 = self.xyxy
        return ((x1 + x2) / 2.0, y2)

    @property
    def center(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.xyxy
        return ((x1 + x2) / 2.0, (y1 + y2) / 2.0)


@dataclass(slots=True)
class Track:
    """History of one tracked road user, in time order. The rules read this."""

    track_id: int
    points: list[TrackPoint] = field(default_factory=list)

    def append(self, point: TrackPoint) -> None:
        if self.points and point.frame_index <= self.points[-1].frame_index:
            raise ValueError(
                f"Track {self.track_id}: frame {point.frame_index} is not after {self.points[-1].frame_index}"
            )
        self.points.append(point)

    def __len__(self) -> int:
        return len(self.points)

    def __iter__(self) -> Iterator[TrackPoint]:
        return iter(self.points)

    @property
    def last(self) -> TrackPoint:
        return self.points[-1]

    @property
    def first(self) -> TrackPoint:
        return self.points[0]

    @property
    def class_name(self) -> str:
        """Majority class over the history, so one misclassified frame does not relabel a vehicle."""
        if not self.points:
            return "unknown"
        return COCO_ROAD_USERS.get(majority(p.class_id for p in self.points)[0], "unknown")

    def anchors(self) -> FloatArray:
        """(T, 2) bottom-centre points."""
        return np.array([p.anchor for p in self.points], dtype=np.float32).reshape(-1, 2)

    def timestamps(self) -> npt.NDArray[np.float64]:
        return np.array([p.timestamp for p in self.points], dtype=np.float64)

    def frame_indices(self) -> IntArray:
        return np.array([p.frame_index for p in self.points], dtype=np.int64)

    @property
    def last_detected(self) -> TrackPoint | None:
        """The newest point a detection gave (not carried by prediction), or None."""
        for p in reversed(self.points):
            if not p.predicted:
                return p
        return None


class ViolationType(StrEnum):
    RED_LIGHT = "red_light"
    STOP_LINE = "stop_line"
    LANE_RESTRICTION = "lane_restriction"
    SOLID_LINE = "solid_line"
    WRONG_WAY = "wrong_way"
    SPEEDING = "speeding"
    NO_STOPPING = "no_stopping"
    NO_HELMET = "no_helmet"
    TOO_MANY_RIDERS = "too_many_riders"
    PASSAGE = "passage"  # not an offence: a vehicle timed at a section camera's line (issue 18)


@dataclass(frozen=True, slots=True)
class EvidenceFrames:
    """Frame indices that prove a violation: before, at and after the decisive moment."""

    before: int
    at: int
    after: int


@dataclass(frozen=True, slots=True)
class Violation:
    """One offence by one tracked vehicle, as a rule decided it.

    `measured` is the rule's typed measurements (`detector.measures`: signal phase and time into red,
    speed with its uncertainty and limit, lane, dwell, ...); its kind is the violation type's.
    """

    violation_type: ViolationType
    camera_id: str
    track_id: int
    vehicle_class: str
    frame_index: int
    timestamp: float
    evidence_frames: EvidenceFrames
    measured: ViolationMeasures
    rule_version: str
    zone_id: str | None = None
    run_id: str = ""  # a live run's start (UTC); empty for a replay, whose frames repeat the same
    riders: int | None = None  # people on a two-wheeler (rider and passengers); None for other vehicles

    def __post_init__(self) -> None:
        if self.measured.kind != self.violation_type.value:
            raise ValueError(
                f"{self.violation_type.value} violation carries {self.measured.kind} measurements"
            )

    @property
    def event_key(self) -> str:
        """Deterministic id: the same replay gives the same key.

        A live camera's track ids and frame indices start again at every start of `detector run`, so
        its violations also carry the run's id: a violation after a restart is never mistaken for
        one already written.
        """
        run = f"{self.run_id}:" if self.run_id else ""
        return f"{self.camera_id}:{run}{self.violation_type.value}:{self.track_id}:{self.frame_index}"


@dataclass(frozen=True, slots=True)
class PlateCandidate:
    text: str
    confidence: float


@dataclass(frozen=True, slots=True)
class PlateRead:
    """A plate reading for a track (or one image), with its alternatives.

    `text` is the display form (e.g. ``51F-123.45``), `normalized` the lookup key (``51F12345``).
    `needs_review` is True whenever the reading must not be trusted without a human.
    """

    text: str
    normalized: str
    confidence: float
    candidates: tuple[PlateCandidate, ...] = ()
    rows: int = 1
    colour: str | None = None
    country: str = "unknown"
    needs_review: bool = True
    frames_used: tuple[int, ...] = ()
