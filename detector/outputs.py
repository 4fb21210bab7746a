"""Replay outputs: track records (JSON Lines), an annotated preview video and snapshots, a summary.

Every file is written to a temporary name and moved into place when complete, so an interrupted
replay never leaves a file that looks whole.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO

import cv2
import numpy as np
import numpy.typing as npt

from detector.annotate.labels import Label, LabelAnnotator, Style
from detector.annotate.shapes import BarAnnotator
from detector.annotate.tracks import TrackAnnotator
from detector.fsutil import replace_synced
from detector.measures import measures_json
from detector.pipeline import FrameResult, RunSummary
from detector.types import COCO_ROAD_USERS, Violation

log = logging.getLogger(__name__)

#: Draws a scene overlay (zones, signal) on an image in place, in a style, and returns its labels.
Overlay = Callable[[npt.NDArray[np.uint8], FrameResult, Style], list[Label]]


def preview_picture(
    result: FrameResult,
    camera_name: str,
    overlays: Sequence[Overlay] = (),
    tracks: TrackAnnotator | None = None,
    shown_width: int | None = None,
) -> npt.NDArray[np.uint8]:
    """One annotated preview frame: the overlays (zones, signal), the tracks, the violators and a
    status bar, every label placed once and none over another; sized to read well when the frame is
    shown `shown_width` pixels wide."""
    image: npt.NDArray[np.uint8] = result.frame.image.copy()
    style = Style.of(image, shown_width)
    labels: list[Label] = []
    for overlay in overlays:
        labels += overlay(image, result, style)
    tracks = tracks or TrackAnnotator()
    riders = result.riders.riders if result.riders is not None else None
    tracks.annotate(image, result.detections, result.tracks, riders, result.violations, style)
    labels += tracks.labels(result.detections, result.tracks, result.violations, style)
    f = result.frame
    bar = BarAnnotator(top=True)
    lines = bar.wrap(
        image, [f"frame {f.index}  t={f.timestamp:.2f}s  tracks {len(result.active)}", camera_name]
    )
    bar.annotate(image, len(lines), style)
    labels += bar.labels(image, lines, style=style)
    clear = [bar.rect(image, len(lines), style)]
    return LabelAnnotator(style).annotate(image, labels, clear, avoid=result.detections.xyxy.tolist())


class TrackRecordWriter:
    """One JSON line per tracked observation: frame, time, track id, class, box, confidence."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp = path.with_name(f".{path.name}.tmp")
        self._fh: IO[str] | None = self._tmp.open("w", encoding="utf-8")
        self.records = 0

    def write(self, result: FrameResult) -> None:
        assert self._fh is not None
        dets = result.detections
        assert dets.tracker_id is not None
        f = result.frame
        predicted = dets.predicted
        counts = dets.data.get("riders")
        riders = result.riders.riders if result.riders is not None else {}
        for i in range(len(dets)):
            rec: dict[str, object] = {
                "frame": f.index,
                "t": round(f.timestamp, 4),
                "track_id": int(dets.tracker_id[i]),
                "class": COCO_ROAD_USERS.get(int(dets.class_id[i]), str(int(dets.class_id[i]))),
                "box": [round(float(v), 1) for v in dets.xyxy[i]],
                "conf": round(float(dets.confidence[i]), 3),
            }
            if predicted[i]:
                rec["predicted"] = True  # carried by the tracker between two detections
            if (
                counts is not None and counts[i] > 0
            ):  # a two-wheeler's riders: their count, and boxes this frame
                rec["riders"] = int(counts[i])
                seen = riders.get(int(dets.tracker_id[i]), ())
                if seen:
                    rec["rider_boxes"] = [[round(float(v), 1) for v in r.xyxy] for r in seen]
            self._fh.write(json.dumps(rec, separators=(",", ":")) + "\n")
            self.records += 1

    def finish(self, late: Sequence[Violation]) -> None:
        """Track records do not change at the end of the stream."""

    def close(self) -> None:
        if self._fh is None:
            return
        self._fh.close()
        self._fh = None
        replace_synced(self._tmp, self.path)


class PreviewWriter:
    """An annotated preview video and a few snapshot JPEGs (the frames with most tracks or a violation)."""

    def __init__(
        self,
        out_dir: Path,
        fps: float,
        camera_name: str,
        overlays: list[Overlay] | None = None,
        max_width: int = 960,
        snapshots: int = 4,
    ) -> None:
        self.out_dir = out_dir
        self.fps = fps
        self.camera_name = camera_name
        self.overlays = overlays or []
        self._tracks = TrackAnnotator()
        self.max_width = max_width
        self.path = out_dir / "preview.mp4"
        self._tmp = out_dir / ".preview.tmp.mp4"
        self._writer: cv2.VideoWriter | None = None
        self._snap_every = 0
        self._snapshots = snapshots
        self._best: list[tuple[int, int, npt.NDArray[np.uint8]]] = []  # (score, frame, image)
        self.violation_frames: list[Path] = []

    def _open(self, shape: tuple[int, int]) -> cv2.VideoWriter:
        h, w = shape
        writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter.fourcc(*"mp4v"), self.fps, (w, h))
        if not writer.isOpened():
            raise OSError(f"cannot write preview video {self._tmp}")
        return writer

    def write(self, result: FrameResult) -> None:
        image = preview_picture(result, self.camera_name, self.overlays, self._tracks, self.max_width)
        if image.shape[1] > self.max_width:
            scale = self.max_width / image.shape[1]
            image = cv2.resize(  # type: ignore[assignment]
                image, (self.max_width, round(image.shape[0] * scale)), interpolation=cv2.INTER_AREA
            )
        if self._writer is None:
            self._writer = self._open(image.shape[:2])
        self._writer.write(image)
        for v in result.violations:
            p = self.out_dir / f"violation_{v.violation_type.value}_track{v.track_id}_f{v.frame_index}.jpg"
            cv2.imwrite(str(p), image)
            self.violation_frames.append(p)
        score = len(result.active)
        room = len(self._best) < self._snapshots or (self._best and score > self._best[-1][0])
        # keep snapshots spread out: only frames at least 1 s apart
        if score and room and all(abs(result.frame.index - f) > self.fps for _, f, _ in self._best):
            self._best.append((score, result.frame.index, image))
            self._best.sort(key=lambda x: -x[0])
            del self._best[self._snapshots :]

    def finish(self, late: Sequence[Violation]) -> None:
        """The preview is already written; late violations are in the summary."""

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            replace_synced(self._tmp, self.path)
        for _, index, image in sorted(self._best, key=lambda x: x[1]):
            cv2.imwrite(str(self.out_dir / f"snapshot_f{index:05d}.jpg"), image)


def violation_record(v: Violation) -> dict[str, object]:
    return {
        "type": v.violation_type.value,
        "camera_id": v.camera_id,
        "track_id": v.track_id,
        "vehicle_class": v.vehicle_class,
        "frame": v.frame_index,
        "t": round(v.timestamp, 3),
        "evidence_frames": asdict(v.evidence_frames),
        "measured": measures_json(v.measured),
        "rule_version": v.rule_version,
        "zone_id": v.zone_id,
        "event_key": v.event_key,
        **({"riders": v.riders} if v.riders is not None else {}),
    }


def summary_record(summary: RunSummary, source: str) -> dict[str, object]:
    t = summary.times
    return {
        "camera_id": summary.camera_id,
        "source": source,
        "frames": summary.frames,
        "stream_seconds": round(summary.stream_seconds, 3),
        "tracks": summary.tracks,
        "tracks_by_class": summary.tracks_by_class,
        "violations": [violation_record(v) for v in summary.violations],
        "dropped_frames": summary.dropped_frames,
        "stage_fps": {
            s: round(t.fps(s), 1)
            for s in ("decode", "detect", "track", "rules", "output")
            if getattr(t, s) > 0
        },
        "models": [{"name": m.name, "sha256": m.sha256, "origin": m.version} for m in summary.models],
    }
