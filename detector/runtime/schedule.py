"""Detection scheduling: which frames the detector runs on, and which the tracker's motion carries.

The detector runs on every `detect_every`-th frame. It runs on every frame, whatever that setting,
where a decision is made: while a track's ground point is near (or within `detect_every` frames'
travel of) a stop line or a solid line, and while a track is young (its first detections decide
whether it is a track at all) where a rule may judge it: in or near a zone (a lane, a line, an area),
where speeds are measured, anywhere if the camera has no zones. A young track far from every zone
(traffic up the image, a side road no rule watches) waits for the periodic detections. A live camera
that falls behind (frames waiting in the capture queue) skips the periodic detections first, never the decisive ones, up to `max_gap` frames in a row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from detector.config import RuntimeConfig
from detector.geometry import Scene
from detector.geometry.crop import Box, Crop, union_box
from detector.signals import Phase
from detector.types import Track

log = logging.getLogger(__name__)

#: how far (in its own box's larger side per frame) a vehicle seen once may move: a car at 90 km/h
#: covers about a fifth of its length in a frame at 25 fps; an unconfirmed track's crop allows that
TENTATIVE_REACH = 0.25


@dataclass
class ScheduleStats:
    detected: int = 0  # frames detected, whole or in a crop
    predicted: int = 0
    forced: int = 0  # detections run only because a track was near a decision or young
    young: int = 0  # of which because a track was young
    cropped: int = 0  # detections run on a crop (of `detected`)
    crop_avoided: int = 0  # forced detections run on the whole frame: a two-wheeler or person in the crop
    crop_share: float = 0.0  # the crops' summed share of the frame's area

    def as_dict(self) -> dict[str, float]:
        return {
            "detected": self.detected,
            "predicted": self.predicted,
            "forced": self.forced,
            "forced_young": self.young,
            "cropped": self.cropped,
            "crop_share_mean": round(self.crop_share / self.cropped, 3) if self.cropped else 0.0,
            "crop_avoided": self.crop_avoided,
        }


def judged_region(scene: Scene | None, margin: float) -> BaseGeometry | None:
    """Where a rule may judge a track: every zone of the scene and the region where speeds are measured,
    `margin` pixels around them, as one prepared geometry; None for everywhere (no scene or no zones)."""
    if scene is None:
        return None
    shapes: list[BaseGeometry] = [z.line for z in scene.stop_lines.values()]
    if scene.homography is not None:
        shapes.append(scene.homography.valid_region)
    shapes += [z.line for z in scene.solid_lines]
    shapes += [z.polygon for z in scene.lanes]
    shapes += [z.polygon for z in (*scene.no_stopping_zones, *scene.right_turn_zones)]
    shapes += [z.polygon for z in scene.arrow_exit_zones]
    if not shapes:
        return None
    region = shapely.union_all(shapes).buffer(max(margin, 1.0))
    shapely.prepare(region)
    return region


def decision_lines(scene: Scene | None, stop_lines: bool = True) -> BaseGeometry | None:
    """The lines where a rule decides (stop lines, unless `stop_lines` is False, and solid lines), as one
    prepared geometry."""
    if scene is None:
        return None
    lines = [z.line for z in scene.stop_lines.values()] if stop_lines else []
    lines += [z.line for z in scene.solid_lines]
    if not lines:
        return None
    union = shapely.union_all(lines)
    shapely.prepare(union)
    return union


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether the frame is detected, and where: `crop` None is the whole frame."""

    detect: bool
    crop: Crop | None = None


CropPlanner = Callable[[Box, int, int], Crop]  # (region, frame width, height) -> the crop to detect in


class DetectionScheduler:
    """Decides, frame by frame, whether the detector runs, and on how much of the frame; pure of the
    wall clock.

    With a `planner` (a detector that detects in crops, detector/geometry/crop.py), a detection forced
    between two periodic ones runs on a crop around the tracks that force it when that crop is at most
    `crop_max_share` of the frame; the periodic detections, and the forced ones that need more of the
    frame, see all of it. A crop does not count as a periodic detection: the whole frame is still
    detected every `detect_every` frames."""

    def __init__(
        self, cfg: RuntimeConfig, scene: Scene | None = None, planner: CropPlanner | None = None
    ) -> None:
        self.cfg = cfg
        # frames between the tracks a decision reads and the frame it is for (`detect_ahead`), plus
        # those until the next periodic detection: how far a track may travel before it is seen again
        self.horizon = cfg.detect_every + cfg.detect_ahead
        self.lines = decision_lines(scene)
        self.green_lines = decision_lines(scene, stop_lines=False)  # while green no stop line decides
        self.region = judged_region(scene, cfg.full_rate_margin_px)
        self.planner = planner if cfg.crop_max_share > 0 else None
        self.stats = ScheduleStats()
        self._since_detect = cfg.detect_every - 1  # the stream's first frame is detected

    def decide(
        self,
        frame_index: int,
        tracks: Mapping[int, Track],
        active: Sequence[int],
        behind: bool = False,
        tentative: npt.NDArray[np.float64] | None = None,
        phase: Phase | None = None,
        frame_size: tuple[int, int] | None = None,
        crop_avoid: npt.NDArray[np.float64] | None = None,
    ) -> Decision:
        """Whether (and where) to detect this frame. `active` are the ids of the previous frame;
        `behind` means the live loop has frames waiting; `tentative` are the predicted boxes (N, 4) of
        the tracker's unconfirmed tracks (a vehicle just seen needs its next detections to become a
        track); `phase` is the signal's as last judged: while it is green no stop line decides anything
        (a red-light or stop-line finding needs red, after an amber or at least `grace_s` into red), so
        only solid lines keep the detector at full rate; `frame_size` (width, height) allows a crop, and
        `crop_avoid` are the predicted boxes (N, 4) of tracks a crop may not cut into (two-wheelers and
        people, `RuntimeConfig.crop_avoid_classes`): a crop overlapping one is not run."""
        since = self._since_detect + 1
        if since >= self.cfg.detect_every and not (behind and since < self.cfg.max_gap):
            return self._whole()
        if since >= self.cfg.max_gap:
            self.stats.forced += 1
            return self._whole()
        lines = self.green_lines if phase == Phase.GREEN else self.lines
        boxes = self._forcing(tracks, active, lines, tentative)
        if not boxes:
            self._since_detect += 1
            self.stats.predicted += 1
            return Decision(False)
        self.stats.forced += 1
        crop = self._crop(boxes, frame_size, crop_avoid)
        if crop is None:
            return self._whole()
        self._since_detect += 1
        self.stats.detected += 1
        self.stats.cropped += 1
        self.stats.crop_share += crop.area_share
        return Decision(True, crop)

    def _crop(
        self,
        boxes: list[Box],
        frame_size: tuple[int, int] | None,
        avoid: npt.NDArray[np.float64] | None,
    ) -> Crop | None:
        """The crop a forced detection may run on, or None for the whole frame."""
        if self.planner is None or frame_size is None:
            return None
        crop = self.planner(union_box(boxes), *frame_size)
        if crop.area_share > self.cfg.crop_max_share:
            return None
        if avoid is not None and _overlaps(crop.box, avoid):
            self.stats.crop_avoided += 1
            return None
        return crop

    def _whole(self) -> Decision:
        self._since_detect = 0
        self.stats.detected += 1
        return Decision(True)

    def _forcing(
        self,
        tracks: Mapping[int, Track],
        active: Sequence[int],
        lines: BaseGeometry | None,
        tentative: npt.NDArray[np.float64] | None,
    ) -> list[Box]:
        """The boxes (frame pixels, grown by where they can move) of what forces a detection now: an
        unconfirmed track or a young one where a rule may judge it, and a track whose ground point is
        about to cross a decision line (within `full_rate_margin_px` beyond where its motion takes it
        by the next periodic detection, from the tracks `detect_ahead` frames before the frame decided)."""
        margin = self.cfg.full_rate_margin_px
        out: list[Box] = []
        young_forced = False
        if tentative is not None and len(tentative) and self.cfg.full_rate_young_s > 0:
            ground = np.stack([(tentative[:, 0] + tentative[:, 2]) / 2, tentative[:, 3]], axis=1)
            judged = self._judged(ground)
            for b in tentative[judged]:  # one detection so far: no speed known; allow a fast one's
                reach = TENTATIVE_REACH * self.horizon * max(float(b[2] - b[0]), float(b[3] - b[1]))
                out.append(_grow((float(b[0]), float(b[1]), float(b[2]), float(b[3])), reach + margin))
            young_forced = bool(judged.any())
        young_s = self.cfg.full_rate_young_s
        candidates: list[tuple[Track, BaseGeometry]] = []
        for tid in active:
            track = tracks.get(tid)
            if track is None or not track.points:
                continue
            young = track.last.timestamp - track.first.timestamp < young_s
            if young and (self.region is None or self.region.intersects(self._reach(track))):
                young_forced = True
                out.append(_grow(track.last.xyxy, self._travel(track) + margin))
            elif lines is not None:
                candidates.append((track, self._reach(track)))
        if candidates and lines is not None:
            hit = shapely.intersects(lines, np.array([r for _, r in candidates], dtype=object))
            for (t, _), h in zip(candidates, hit.tolist(), strict=True):
                if h:
                    out.append(_grow(t.last.xyxy, self._travel(t) + margin))
        self.stats.young += young_forced
        return out

    def _judged(self, points: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """Which of these ground points lie where a rule may judge them."""
        if self.region is None:
            return np.ones(len(points), dtype=bool)
        return np.asarray(shapely.contains_xy(self.region, points[:, 0], points[:, 1]), dtype=bool)

    @staticmethod
    def _motion(track: Track) -> tuple[float, float, float, float, float]:
        """(x, y, vx, vy, speed) of the track's ground point: where it is and its last step."""
        last = track.last
        prev = track.points[-2] if len(track.points) > 1 else last
        x, y = last.anchor
        vx, vy = x - prev.anchor[0], y - prev.anchor[1]
        return x, y, vx, vy, float(np.hypot(vx, vy))

    def _travel(self, track: Track) -> float:
        """How far (pixels) the track's box may move before the next periodic detection."""
        return self._motion(track)[4] * self.horizon

    def _reach(self, track: Track) -> BaseGeometry:
        """Where the track's ground point can go before the next periodic detection, plus the margin."""
        x, y, vx, vy, speed = self._motion(track)
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


def _overlaps(box: Box, boxes: npt.NDArray[np.float64]) -> bool:
    """Whether any of `boxes` (N, 4) overlaps `box`."""
    if len(boxes) == 0:
        return False
    x0, y0, x1, y1 = box
    hit = (boxes[:, 0] < x1) & (boxes[:, 2] > x0) & (boxes[:, 1] < y1) & (boxes[:, 3] > y0)
    return bool(hit.any())


def _grow(box: Box, by: float) -> Box:
    x0, y0, x1, y1 = box
    return (x0 - by, y0 - by, x1 + by, y1 + by)
