"""Multi-object tracking: a ByteTrack adapter and the track histories the rules read.

ByteTrack comes from Roboflow's `trackers` package (clean-room implementations, Apache-2.0), the
maintained successor of supervision's `sv.ByteTrack`, which supervision 0.30 removed. See the
README's design notes for the comparison. The adapter converts our `Detections` to and from the
library's `sv.Detections` so no vendor type leaks into the stages.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from detector.config import TrackerConfig
from detector.types import Detections, Frame, Track, TrackPoint

log = logging.getLogger(__name__)


class ByteTrackAdapter:
    """Assigns stable `tracker_id`s to detections, frame after frame, timed by stream time."""

    def __init__(self, cfg: TrackerConfig, fps: float) -> None:
        self.cfg = cfg
        self._tracker = ByteTrackTracker(
            lost_track_buffer=cfg.lost_track_buffer,
            frame_rate=fps,
            track_activation_threshold=cfg.track_activation_threshold,
            minimum_consecutive_frames=cfg.minimum_consecutive_frames,
            minimum_iou_threshold=cfg.minimum_iou,
            high_conf_det_threshold=cfg.high_confidence,
        )

    def update(self, detections: Detections, timestamp: float) -> Detections:
        """Returns the tracked detections (tracker_id >= 0); untracked ones are dropped."""
        sv_in = sv.Detections(
            xyxy=detections.xyxy.astype(np.float32),
            confidence=detections.confidence.astype(np.float32),
            class_id=detections.class_id.astype(int),
            data={"_row": np.arange(len(detections))},
        )
        out = self._tracker.update(sv_in, timestamp=timestamp)
        if len(out) == 0 or out.tracker_id is None:
            return Detections.empty()
        rows = np.asarray(out.data["_row"], dtype=np.int64)
        tracked = detections[rows]
        tracked.tracker_id = np.asarray(out.tracker_id, dtype=np.int64)
        return tracked[tracked.tracker_id >= 0]

    def reset(self) -> None:
        self._tracker.reset()

    def close(self) -> None:
        self.reset()


@dataclass
class TrackStore:
    """Histories of the tracks seen so far, trimmed in length and forgotten when long unseen."""

    max_history: int = 900
    forget_after_s: float = 5.0
    tracks: dict[int, Track] = field(default_factory=dict)
    finished: list[Track] = field(default_factory=list)

    def update(self, frame: Frame, tracked: Detections) -> list[int]:
        """Append this frame's observations; returns the ids seen in this frame."""
        assert tracked.tracker_id is not None
        active: list[int] = []
        for i in range(len(tracked)):
            tid = int(tracked.tracker_id[i])
            x1, y1, x2, y2 = (float(v) for v in tracked.xyxy[i])
            point = TrackPoint(
                frame_index=frame.index, timestamp=frame.timestamp, xyxy=(x1, y1, x2, y2),
                confidence=float(tracked.confidence[i]), class_id=int(tracked.class_id[i]),
            )
            track = self.tracks.get(tid)
            if track is None:
                track = self.tracks[tid] = Track(track_id=tid)
            if track.points and track.points[-1].frame_index == frame.index:
                continue  # the tracker never gives one id twice a frame; be safe anyway
            track.append(point)
            if len(track.points) > self.max_history:
                del track.points[: len(track.points) - self.max_history]
            active.append(tid)
        self._forget(frame.timestamp)
        return active

    def _forget(self, now_s: float) -> None:
        stale = [tid for tid, t in self.tracks.items() if now_s - t.last.timestamp > self.forget_after_s]
        for tid in stale:
            self.finished.append(self.tracks.pop(tid))

    def drain_finished(self) -> list[Track]:
        done, self.finished = self.finished, []
        return done

    def view(self) -> Mapping[int, Track]:
        return self.tracks
