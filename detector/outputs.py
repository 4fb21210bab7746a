"""Replay outputs: track records (JSON Lines), an annotated preview video and snapshots, a summary.

Every file is written to a temporary name and moved into place when complete, so an interrupted
replay never leaves a file that looks whole.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO

import cv2
import numpy as np
import numpy.typing as npt

from detector.pipeline import FrameResult, RunSummary
from detector.types import COCO_ROAD_USERS, Violation

log = logging.getLogger(__name__)

Overlay = Callable[[npt.NDArray[np.uint8], FrameResult], None]


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _colour(track_id: int) -> tuple[int, int, int]:
    rng = np.random.default_rng(track_id * 7919 + 17)
    r, g, b = (int(v) for v in rng.integers(60, 255, 3))
    return (b, g, r)


def draw_tracks(image: npt.NDArray[np.uint8], result: FrameResult) -> None:
    """Boxes, track ids and classes, plus the recent path of each active track."""
    dets = result.detections
    assert dets.tracker_id is not None
    for i in range(len(dets)):
        tid = int(dets.tracker_id[i])
        x1, y1, x2, y2 = (int(round(v)) for v in dets.xyxy[i])
        col = _colour(tid)
        cv2.rectangle(image, (x1, y1), (x2, y2), col, 2)
        label = f"#{tid} {COCO_ROAD_USERS.get(int(dets.class_id[i]), '?')} {dets.confidence[i]:.2f}"
        riders = int(dets.data["riders"][i]) if "riders" in dets.data else 0
        if riders:
            label += f" x{riders}"  # people riding it
            for r in result.riders.riders.get(tid, ()) if result.riders is not None else ():
                rx1, ry1, rx2, ry2 = (int(round(v)) for v in r.xyxy)
                cv2.rectangle(image, (rx1, ry1), (rx2, ry2), col, 1)
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
        cv2.rectangle(image, (x1, max(0, y1 - th - 6)), (x1 + tw + 4, y1), col, -1)
        cv2.putText(image, label, (x1 + 2, y1 - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        track = result.tracks.get(tid)
        if track is not None and len(track) > 1:
            pts = track.anchors()[-40:].astype(np.int32)
            cv2.polylines(image, [pts.reshape(-1, 1, 2)], False, col, 2, cv2.LINE_AA)
    for v in result.violations:
        track = result.tracks.get(v.track_id)
        if track is None:
            continue
        x1, y1, x2, y2 = (int(round(c)) for c in track.last.xyxy)
        cv2.rectangle(image, (x1 - 3, y1 - 3), (x2 + 3, y2 + 3), (0, 0, 255), 3)
        cv2.putText(
            image,
            v.violation_type.value.upper(),
            (x1, y2 + 18),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6,
            (0, 0, 255),
            2,
            cv2.LINE_AA,
        )


def draw_status(image: npt.NDArray[np.uint8], result: FrameResult, camera_name: str) -> None:
    f = result.frame
    text = f"{camera_name}  frame {f.index}  t={f.timestamp:7.2f}s  tracks {len(result.active)}"
    cv2.rectangle(image, (0, 0), (image.shape[1], 22), (0, 0, 0), -1)
    cv2.putText(image, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)


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
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._fh = None
        os.replace(self._tmp, self.path)


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
        image: np.ndarray = result.frame.image.copy()
        for overlay in self.overlays:
            overlay(image, result)
        draw_tracks(image, result)
        draw_status(image, result, self.camera_name)
        if image.shape[1] > self.max_width:
            scale = self.max_width / image.shape[1]
            image = cv2.resize(
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
            os.replace(self._tmp, self.path)
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
        "measured": dict(v.measured),
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
