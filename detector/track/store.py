"""The track histories the rules read: appended at each detected frame, carried between detections,
trimmed in length and handed on when long unseen."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from detector.types import Detections, Frame, Track, TrackPoint

log = logging.getLogger(__name__)


class TrackStore:
    """Histories of the tracks seen so far, trimmed in length and handed on when long unseen.

    A forgotten track is passed to `on_finished` (the run's counters) and freed: on a camera that
    runs for days the store holds only the tracks of the last `forget_after_s` seconds.

    Between two detections (`predict`), each track seen at the last detected frame is carried by
    its own recent motion (constant velocity over the last `velocity_window_s` of detected points);
    those points are marked `predicted` so the plate reader and evidence use detected boxes only.
    """

    def __init__(
        self,
        max_history: int = 900,
        forget_after_s: float = 5.0,
        on_finished: Callable[[Track], None] | None = None,
        velocity_window_s: float = 0.4,
    ) -> None:
        self.max_history = max_history
        self.forget_after_s = forget_after_s
        self.on_finished = on_finished
        self.velocity_window_s = velocity_window_s
        self.tracks: dict[int, Track] = {}
        self._last_detected: list[int] = []  # ids seen at the last detected frame
        self.forgotten = 0

    def update(self, frame: Frame, tracked: Detections) -> list[int]:
        """Append this frame's observations; returns the ids seen in this frame."""
        assert tracked.tracker_id is not None
        active: list[int] = []
        for i in range(len(tracked)):
            tid = int(tracked.tracker_id[i])
            x1, y1, x2, y2 = (float(v) for v in tracked.xyxy[i])
            point = TrackPoint(
                frame_index=frame.index,
                timestamp=frame.timestamp,
                xyxy=(x1, y1, x2, y2),
                confidence=float(tracked.confidence[i]),
                class_id=int(tracked.class_id[i]),
            )
            if self._append(tid, point):
                active.append(tid)
        self._last_detected = list(active)
        self._forget(frame.timestamp)
        return active

    def update_part(
        self, frame: Frame, tracked: Detections, carried: Sequence[int]
    ) -> tuple[list[int], Detections]:
        """A frame detected in part (a crop): append the detected tracks' observations, and carry the
        `carried` tracks (outside the crop) by their motion as `predict` does. Returns the ids of both
        and the carried tracks' rows (marked predicted)."""
        assert tracked.tracker_id is not None
        detected = set(tracked.tracker_id.tolist())
        carry = [tid for tid in carried if tid in self._last_detected and tid not in detected]
        active = self.update(frame, tracked)
        rows = self._carry(frame, carry)
        self._last_detected = active + [tid for tid, _ in rows]
        return self._last_detected, self._rows(rows)

    def predict(self, frame: Frame) -> tuple[Detections, list[int]]:
        """Carry the tracks of the last detected frame to `frame` without a detection."""
        rows = self._carry(frame, self._last_detected)
        self._forget(frame.timestamp)
        return self._rows(rows), [tid for tid, _ in rows]

    def _carry(self, frame: Frame, ids: Sequence[int]) -> list[tuple[int, TrackPoint]]:
        rows: list[tuple[int, TrackPoint]] = []
        for tid in ids:
            track = self.tracks.get(tid)
            if track is None:
                continue
            point = self._extrapolate(track, frame)
            if point is not None and self._append(tid, point):
                rows.append((tid, point))
        return rows

    @staticmethod
    def _rows(rows: list[tuple[int, TrackPoint]]) -> Detections:
        if not rows:
            return Detections.empty()
        return Detections(
            xyxy=np.array([p.xyxy for _, p in rows], dtype=np.float32),
            confidence=np.array([p.confidence for _, p in rows], dtype=np.float32),
            class_id=np.array([p.class_id for _, p in rows], dtype=np.int64),
            tracker_id=np.array([tid for tid, _ in rows], dtype=np.int64),
            data={"predicted": np.ones(len(rows), dtype=bool)},
        )

    def _extrapolate(self, track: Track, frame: Frame) -> TrackPoint | None:
        last = track.last_detected
        if last is None:
            return None
        ref = last
        for p in reversed(track.points):
            if p.predicted:
                continue
            ref = p
            if last.timestamp - p.timestamp >= self.velocity_window_s:
                break
        dt = frame.timestamp - last.timestamp
        span = last.timestamp - ref.timestamp
        box = np.asarray(last.xyxy, dtype=np.float64)
        if span > 0:
            box = box + (box - np.asarray(ref.xyxy, dtype=np.float64)) * (dt / span)
        x1, y1, x2, y2 = (float(v) for v in box)
        return TrackPoint(
            frame_index=frame.index,
            timestamp=frame.timestamp,
            xyxy=(x1, y1, x2, y2),
            confidence=last.confidence,
            class_id=last.class_id,
            predicted=True,
        )

    def _append(self, tid: int, point: TrackPoint) -> bool:
        track = self.tracks.get(tid)
        if track is None:
            track = self.tracks[tid] = Track(track_id=tid)
        if track.points and track.points[-1].frame_index >= point.frame_index:
            return False  # the tracker never gives one id twice a frame; be safe anyway
        track.append(point)
        if len(track.points) > self.max_history:
            del track.points[: len(track.points) - self.max_history]
        return True

    def _forget(self, now_s: float) -> None:
        stale = [tid for tid, t in self.tracks.items() if now_s - t.last.timestamp > self.forget_after_s]
        for tid in stale:
            track = self.tracks.pop(tid)
            self.forgotten += 1
            if self.on_finished is not None:
                self.on_finished(track)

    def view(self) -> Mapping[int, Track]:
        return self.tracks
