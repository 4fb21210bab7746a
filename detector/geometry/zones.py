"""Zones of a scene as shapely shapes with numpy answers: painted lines (signed distance, extent),
areas, lanes (with their direction of travel) and the exit areas of turns made on an arrow.

Signed distances to lines are computed with numpy over all points at once (the rules call them on a
whole track history every frame); shapely holds the shapes and answers containment in bulk
(`shapely.contains_xy`). Conventions: image pixels, x right, y down. A lane's direction is the
tangent of its centreline at the nearest segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString, Polygon

F64 = npt.NDArray[np.float64]


def as_xy(xy: npt.ArrayLike) -> F64:
    """Points as an (N, 2) float64 array (one point or many)."""
    arr = np.asarray(xy, dtype=np.float64)
    return arr.reshape(-1, 2)


def polyline_projection(coords: F64, xy: npt.ArrayLike) -> tuple[F64, F64, npt.NDArray[np.int64], F64]:
    """For each point: (signed distance, along-line position in [0, 1] of its segment, segment index,
    unclamped segment parameter). Sign: positive on the left of the segment direction in image
    coordinates (cross product > 0)."""
    pts = as_xy(xy)
    a = coords[:-1]
    b = coords[1:]
    ab = b - a  # (S, 2)
    seg_len2 = np.maximum((ab**2).sum(axis=1), 1e-12)
    ap = pts[:, None, :] - a[None, :, :]  # (N, S, 2)
    t_raw = (ap * ab[None]).sum(axis=2) / seg_len2[None]
    t = np.clip(t_raw, 0.0, 1.0)
    closest = a[None] + t[..., None] * ab[None]
    dist = np.sqrt(((pts[:, None, :] - closest) ** 2).sum(axis=2))
    seg = np.argmin(dist, axis=1)
    rows = np.arange(len(pts))
    cross = ab[seg, 0] * ap[rows, seg, 1] - ab[seg, 1] * ap[rows, seg, 0]
    sign = np.where(cross >= 0, 1.0, -1.0)
    return sign * dist[rows, seg], t[rows, seg], seg.astype(np.int64), t_raw[rows, seg]


def within_segments(
    coords: F64, seg: npt.NDArray[np.int64], t_raw: F64, margin_px: float
) -> npt.NDArray[np.bool_]:
    """True where a point's projection (segment `seg`, parameter `t_raw`) falls on the polyline, not
    beyond its first or last end by more than `margin_px`."""
    seg_len = np.linalg.norm(coords[1:] - coords[:-1], axis=1)[seg]
    lo = np.where(seg == 0, -margin_px / np.maximum(seg_len, 1e-9), -np.inf)
    hi = np.where(seg == len(coords) - 2, 1 + margin_px / np.maximum(seg_len, 1e-9), np.inf)
    return (t_raw >= lo) & (t_raw <= hi)


@dataclass(frozen=True, slots=True)
class LineZone:
    """A painted line (stop line or solid line). `side` orients the signed distance."""

    id: str
    line: LineString
    coords: F64
    side: float = 1.0
    crosswalk: Polygon | None = None

    def signed_distance(self, xy: npt.ArrayLike) -> F64:
        d, _, _, _ = polyline_projection(self.coords, xy)
        return self.side * d

    def within_extent(self, xy: npt.ArrayLike, margin_px: float = 0.0) -> npt.NDArray[np.bool_]:
        """True where the point projects onto the line (not beyond its ends, up to `margin_px`)."""
        _, _, seg, t_raw = polyline_projection(self.coords, xy)
        return within_segments(self.coords, seg, t_raw, margin_px)

    def segment_crosses(self, p0: Sequence[float], p1: Sequence[float]) -> bool:
        return bool(self.line.intersects(LineString([tuple(p0), tuple(p1)])))


@dataclass(frozen=True, slots=True)
class AreaZone:
    id: str
    polygon: Polygon

    def contains(self, xy: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        pts = as_xy(xy)
        return np.asarray(shapely.contains_xy(self.polygon, pts[:, 0], pts[:, 1]), dtype=bool)


@dataclass(frozen=True, slots=True)
class LaneZone:
    id: str
    polygon: Polygon
    centreline: F64
    allowed_classes: frozenset[str] | None
    stop_line: str | None
    right_turn_on_red: bool
    turn_on_arrow: frozenset[str] = frozenset()

    def contains(self, xy: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        pts = as_xy(xy)
        return np.asarray(shapely.contains_xy(self.polygon, pts[:, 0], pts[:, 1]), dtype=bool)

    def direction_at(self, xy: npt.ArrayLike) -> F64:
        """(N, 2) unit travel directions: tangent of the centreline segment nearest each point."""
        _, _, seg, _ = polyline_projection(self.centreline, xy)
        d = self.centreline[1:] - self.centreline[:-1]
        d = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
        return d[seg]

    def allows(self, vehicle_class: str) -> bool:
        return self.allowed_classes is None or vehicle_class in self.allowed_classes


@dataclass(frozen=True, slots=True)
class TurnZone:
    """Exit area of a turn made on an arrow."""

    id: str
    polygon: Polygon
    turn: str

    def contains(self, xy: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        pts = as_xy(xy)
        return np.asarray(shapely.contains_xy(self.polygon, pts[:, 0], pts[:, 1]), dtype=bool)
