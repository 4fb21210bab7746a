"""Detection scheduling: which frames the detector runs on, and which the tracker's motion carries.

The detector runs on every `detect_every`-th frame. It runs on every frame, whatever that setting,
where a decision is made: while a track's ground point is near (or within `detect_every` frames'
travel of) a stop line or a solid line, and while a track is young (its first detections decide
whether it is a track at all). A live camera that falls behind (frames waiting in the capture queue)
skips the periodic detections first, never the decisive ones, up to `max_gap` frames in a row.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from detector.config import RuntimeConfig
from detector.geometry import Scene
from detector.types import Track

log = logging.getLogger(__name__)


@dataclass
class ScheduleStats:
    detected: int = 0
    predicted: int = 0
    forced: int = 0  # detections run only because a track was near a decision or young
    young: int = 0  # of which because a track was young

    def as_dict(self) -> dict[str, int]:
        return {
            "detected": self.detected,
            "predicted": self.predicted,
            "forced": self.forced,
            "forced_young": self.young,
        }


def decision_lines(scene: Scene | None) -> BaseGeometry | None:
    """The lines where a rule decides (stop lines and solid lines), as one prepared geometry."""
    if scene is None:
        return None
    lines = [z.line for z in scene.stop_lines.values()] + [z.line for z in scene.solid_lines]
    if not lines:
        return None
    union = shapely.union_all(lines)
    shapely.prepare(union)
    return union


class DetectionScheduler:
    """Decides, frame by frame, whether the detector runs; pure of the wall clock."""

    def __init__(self, cfg: RuntimeConfig, scene: Scene | None = None) -> None:
        self.cfg = cfg
        # frames between the tracks a decision reads and the frame it is for (`detect_ahead`), plus
        # those until the next periodic detection: how far a track may travel before it is seen again
        self.horizon = cfg.detect_every + cfg.detect_ahead
        self.lines = decision_lines(scene)
        self.stats = ScheduleStats()
        self._since_detect = cfg.detect_every - 1  # the stream's first frame is detected

    def decide(
        self,
        frame_index: int,
        tracks: Mapping[int, Track],
        active: Sequence[int],
        behind: bool = False,
        tentative: int = 0,
    ) -> bool:
        """True to detect this frame. `active` are the ids of the previous frame; `behind` means the
        live loop has frames waiting; `tentative` counts the tracker's unconfirmed tracks (a vehicle
        just seen needs its next detections to become a track)."""
        every = self.cfg.detect_every
        periodic = self._since_detect + 1 >= every
        detect = periodic and not (behind and self._since_detect + 1 < self.cfg.max_gap)
        if not detect and tentative and self.cfg.full_rate_young_s > 0:
            detect = True
            self.stats.forced += 1
            self.stats.young += 1
        if not detect and (self._since_detect + 1 >= self.cfg.max_gap or self._forced(tracks, active)):
            detect = True
            self.stats.forced += 1
        if detect:
            self._since_detect = 0
            self.stats.detected += 1
        else:
            self._since_detect += 1
            self.stats.predicted += 1
        return detect

    def _forced(self, tracks: Mapping[int, Track], active: Sequence[int]) -> bool:
        """A track is young, or its ground point is about to cross a decision line: within
        `full_rate_margin_px` beyond where its motion takes it by the next periodic detection (from the
        tracks `detect_ahead` frames before the frame decided)."""
        young_s = self.cfg.full_rate_young_s
        paths = []
        for tid in active:
            track = tracks.get(tid)
            if track is None or not track.points:
                continue
            last = track.last
            if last.timestamp - track.first.timestamp < young_s:
                self.stats.young += 1
                return True
            if self.lines is not None:
                paths.append(self._reach(track))
        if not paths:
            return False
        return bool(np.any(shapely.intersects(self.lines, np.array(paths, dtype=object))))

    def _reach(self, track: Track) -> BaseGeometry:
        """Where the track's ground point can go before the next periodic detection, plus the margin."""
        last = track.last
        prev = track.points[-2] if len(track.points) > 1 else last
        x, y = last.anchor
        vx, vy = x - prev.anchor[0], y - prev.anchor[1]
        speed = float(np.hypot(vx, vy))
        margin = self.cfg.full_rate_margin_px
        if speed < 0.5:  # standing: only a point on the line itself decides anything
            return shapely.Point(x, y).buffer(max(2.0, margin / 8), quad_segs=2)
        reach = speed * self.horizon + margin
        return LineString(
            [
                (x - vx / speed * margin, y - vy / speed * margin),
                (x + vx / speed * reach, y + vy / speed * reach),
            ]
        )
