"""How well a detector finds the sample scene's vehicles: per vehicle, the fraction of frames where a
detection overlaps its ground-truth box with IoU > 0.5 (counting only frames where the vehicle is
fully in frame, unoccluded and at least `min_width` pixels wide)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from detector.errors import SourceError
from detector.sample.groundtruth import BoxTruth, GroundTruth
from detector.types import Detections

DetectFn = Callable[[npt.NDArray[np.uint8]], Detections]


@dataclass(frozen=True, slots=True)
class VehicleScore:
    vehicle_id: int
    frames_counted: int
    frames_found: int
    mean_iou: float  # over the frames found

    @property
    def recall(self) -> float:
        return self.frames_found / self.frames_counted if self.frames_counted else float("nan")


def iou(a: tuple[float, float, float, float], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """IoU of box `a` against (N, 4) boxes `b`."""
    if len(b) == 0:
        return np.zeros(0)
    ix = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = ix * iy
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a + area_b - inter)


def countable(b: BoxTruth, min_width: float = 30.0) -> bool:
    return b.visible >= 0.99 and b.occluded <= 0.1 and (b.x2 - b.x1) >= min_width


def read_frames(video: Path, wanted: Iterable[int] | None = None) -> dict[int, npt.NDArray[np.uint8]]:
    """Decode the clip and keep the frames in `wanted` (all when None)."""
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise SourceError(f"cannot open sample video {video}")
    keep = set(wanted) if wanted is not None else None
    out: dict[int, npt.NDArray[np.uint8]] = {}
    i = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if keep is None or i in keep:
                out[i] = np.asarray(frame, dtype=np.uint8)
            i += 1
            if keep is not None and i > max(keep, default=-1):
                break
    finally:
        cap.release()
    return out


def score_detections(
    truth: GroundTruth,
    detections: dict[int, Detections],
    min_width: float = 30.0,
    vehicle_classes: frozenset[int] = frozenset({2, 5, 7}),
) -> list[VehicleScore]:
    """Per-vehicle recall over the frames present in `detections`."""
    scores = []
    for v in truth.vehicles:
        counted = found = 0
        ious: list[float] = []
        for b in v.boxes:
            if b.frame not in detections or not countable(b, min_width):
                continue
            d = detections[b.frame]
            boxes = d.xyxy[np.isin(d.class_id, list(vehicle_classes))]
            counted += 1
            best = float(iou(b.xyxy, boxes).max()) if len(boxes) else 0.0
            if best > 0.5:
                found += 1
                ious.append(best)
        scores.append(VehicleScore(v.id, counted, found, float(np.mean(ious)) if ious else 0.0))
    return scores


@dataclass(frozen=True, slots=True)
class MeasureResult:
    frames: int
    scores: tuple[VehicleScore, ...]
    unmatched: int  # vehicle detections matching no ground-truth box (false positives or misplaced)


def measure(
    video: Path,
    truth: GroundTruth,
    detect: DetectFn,
    frames: Iterable[int] | None = None,
    min_width: float = 30.0,
) -> MeasureResult:
    images = read_frames(video, frames)
    dets = {i: detect(img) for i, img in images.items()}
    return MeasureResult(
        len(dets), tuple(score_detections(truth, dets, min_width)), unmatched_detections(truth, dets)
    )


def unmatched_detections(
    truth: GroundTruth,
    detections: dict[int, Detections],
    vehicle_classes: frozenset[int] = frozenset({2, 5, 7}),
    max_iou: float = 0.3,
) -> int:
    """Vehicle detections overlapping no ground-truth box (any visibility) by more than `max_iou`."""
    n = 0
    for frame, d in detections.items():
        gt = np.array([b.xyxy for v in truth.vehicles for b in v.boxes if b.frame == frame], dtype=np.float32)
        for box in d.xyxy[np.isin(d.class_id, list(vehicle_classes))]:
            if len(gt) == 0 or float(iou(tuple(float(x) for x in box), gt).max()) <= max_iou:  # type: ignore[arg-type]
                n += 1
    return n
