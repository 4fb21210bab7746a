"""A camera's scene built once from its rules config: every zone, line and the homography, and the
per-point answers the rules ask of it (`Scene.features`, vectorized over a track's points).

A stop line's signed distance is positive on its forward (intersection) side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString, Polygon

from detector.config import RulesConfig
from detector.geometry.homography import Homography, calibration_from_config
from detector.geometry.validate import validate_rules_geometry
from detector.geometry.zones import (
    F64,
    AreaZone,
    LaneZone,
    LineZone,
    TurnZone,
    as_xy,
    polyline_projection,
    within_segments,
)


@dataclass(frozen=True, slots=True)
class PointFeatures:
    """Per-point answers of the scene (row i = point i). Columns of the 2-D arrays follow
    `Scene.stop_lines` (insertion order) and `Scene.solid_lines`; indices -1 mean none."""

    stop_d: F64  # (N, S) signed distance to each stop line, + = intersection side
    stop_within: npt.NDArray[np.bool_]  # (N, S) projects onto the line (not beyond its ends)
    crosswalk: npt.NDArray[np.bool_]  # (N, S) inside the stop line's crosswalk
    solid_d: F64  # (N, L) signed distance to each solid line
    solid_within: npt.NDArray[np.bool_]  # (N, L)
    lane_idx: npt.NDArray[np.int64]  # (N,) index into Scene.lanes
    nostop_idx: npt.NDArray[np.int64]  # (N,) index into Scene.no_stopping_zones
    right_turn: npt.NDArray[np.bool_]  # (N,) inside any right-turn exit zone
    arrow_exit: npt.NDArray[np.int64]  # (N,) index into Scene.arrow_exit_zones
    world: F64  # (N, 2) road-plane metres (NaN without calibration)
    valid: npt.NDArray[np.bool_]  # (N,) inside the calibration's valid region

    def __len__(self) -> int:
        return len(self.lane_idx)

    def take(self, index: slice | npt.NDArray[np.bool_] | npt.NDArray[np.int64]) -> PointFeatures:
        return PointFeatures(
            self.stop_d[index],
            self.stop_within[index],
            self.crosswalk[index],
            self.solid_d[index],
            self.solid_within[index],
            self.lane_idx[index],
            self.nostop_idx[index],
            self.right_turn[index],
            self.arrow_exit[index],
            self.world[index],
            self.valid[index],
        )

    @classmethod
    def concat(cls, parts: Sequence[PointFeatures]) -> PointFeatures:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__slots__))


@dataclass(frozen=True, slots=True)
class Scene:
    """All zones of one camera, built once."""

    stop_lines: dict[str, LineZone]
    lanes: tuple[LaneZone, ...]
    solid_lines: tuple[LineZone, ...]
    no_stopping_zones: tuple[AreaZone, ...]
    right_turn_zones: tuple[AreaZone, ...]
    homography: Homography | None
    arrow_exit_zones: tuple[TurnZone, ...] = ()

    @classmethod
    def from_config(cls, cfg: RulesConfig, image_size: tuple[int, int] | None = None) -> Scene:
        validate_rules_geometry(cfg, image_size or cfg.image_size)
        z = cfg.zones
        stop_lines = {}
        for s in z.stop_lines:
            coords = as_xy(s.points)
            d, _, _, _ = polyline_projection(coords, [s.forward_point])
            cw = Polygon(s.crosswalk) if s.crosswalk else None
            stop_lines[s.id] = LineZone(s.id, LineString(coords), coords, 1.0 if d[0] > 0 else -1.0, cw)
        lanes = tuple(
            LaneZone(
                id=lane.id,
                polygon=Polygon(lane.polygon),
                centreline=as_xy(lane.direction),
                allowed_classes=frozenset(lane.allowed_classes) if lane.allowed_classes is not None else None,
                stop_line=lane.stop_line,
                right_turn_on_red=lane.right_turn_on_red,
                turn_on_arrow=frozenset(lane.turn_on_arrow),
            )
            for lane in z.lanes
        )
        solid = tuple(LineZone(s.id, LineString(s.points), as_xy(s.points)) for s in z.solid_lines)
        nsz = tuple(AreaZone(a.id, Polygon(a.polygon)) for a in z.no_stopping_zones)
        rtz = tuple(AreaZone(a.id, Polygon(a.polygon)) for a in z.right_turn_zones)
        homo = calibration_from_config(cfg.calibration) if cfg.calibration else None
        arrow_exits = tuple(TurnZone(a.id, Polygon(a.polygon), a.turn) for a in z.arrow_exit_zones)
        return cls(stop_lines, lanes, solid, nsz, rtz, homo, arrow_exits)

    def features(self, xy: npt.ArrayLike) -> PointFeatures:
        """Everything the rules ask about points, computed once per point (vectorized)."""
        pts = as_xy(xy)
        n = len(pts)
        stop = list(self.stop_lines.values())
        stop_d = np.zeros((n, len(stop)))
        stop_in = np.zeros((n, len(stop)), bool)
        crosswalk = np.zeros((n, len(stop)), bool)
        for i, line in enumerate(stop):
            d, _, seg, t_raw = polyline_projection(line.coords, pts)
            stop_d[:, i] = line.side * d
            stop_in[:, i] = within_segments(line.coords, seg, t_raw, 0.0)
            if line.crosswalk is not None:
                crosswalk[:, i] = shapely.contains_xy(line.crosswalk, pts[:, 0], pts[:, 1])
        solid_d = np.zeros((n, len(self.solid_lines)))
        solid_in = np.zeros((n, len(self.solid_lines)), bool)
        for i, line in enumerate(self.solid_lines):
            d, _, seg, t_raw = polyline_projection(line.coords, pts)
            solid_d[:, i] = line.side * d
            solid_in[:, i] = within_segments(line.coords, seg, t_raw, 0.0)
        lane_idx = np.full(n, -1, np.int64)
        for i in reversed(range(len(self.lanes))):
            lane_idx[self.lanes[i].contains(pts)] = i
        nostop_idx = np.full(n, -1, np.int64)
        for i in reversed(range(len(self.no_stopping_zones))):
            nostop_idx[self.no_stopping_zones[i].contains(pts)] = i
        rtz = np.zeros(n, bool)
        for z in self.right_turn_zones:
            rtz |= z.contains(pts)
        arrow_exit = np.full(n, -1, np.int64)
        for i in reversed(range(len(self.arrow_exit_zones))):
            arrow_exit[self.arrow_exit_zones[i].contains(pts)] = i
        if self.homography is not None and n:
            world = self.homography.image_to_world(pts)
            valid = self.homography.in_valid_region(pts)
        else:
            world = np.full((n, 2), np.nan)
            valid = np.zeros(n, bool)
        return PointFeatures(
            stop_d, stop_in, crosswalk, solid_d, solid_in, lane_idx, nostop_idx, rtz, arrow_exit, world, valid
        )
