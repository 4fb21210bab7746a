"""Scene geometry: zones as shapely objects built once from the config, and the road-plane homography.

Signed distances to lines are computed with numpy over all points at once (the rules call them on a
whole track history every frame); shapely holds the shapes and answers containment in bulk
(`shapely.contains_xy`).

Conventions: image pixels, x right, y down. A stop line's signed distance is positive on its forward
(intersection) side. A lane's direction is the tangent of its centreline at the nearest segment.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString, MultiPoint, Polygon
from shapely.validation import explain_validity

from detector.errors import ConfigError
from detector.rules.config import (
    CalibrationConfig,
    LaneConfig,
    RulesConfig,
    SolidLineConfig,
    StopLineConfig,
    TurnZoneConfig,
    ZoneConfig,
)

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]


def _as_xy(xy: npt.ArrayLike) -> F64:
    arr = np.asarray(xy, dtype=np.float64)
    return arr.reshape(-1, 2)


def polyline_projection(coords: F64, xy: npt.ArrayLike) -> tuple[F64, F64, npt.NDArray[np.int64], F64]:
    """For each point: (signed distance, along-line position in [0, 1] of its segment, segment index,
    unclamped segment parameter). Sign: positive on the left of the segment direction in image
    coordinates (cross product > 0)."""
    pts = _as_xy(xy)
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
        return _within(self.coords, seg, t_raw, margin_px)

    def segment_crosses(self, p0: Sequence[float], p1: Sequence[float]) -> bool:
        return bool(self.line.intersects(LineString([tuple(p0), tuple(p1)])))


@dataclass(frozen=True, slots=True)
class AreaZone:
    id: str
    polygon: Polygon

    def contains(self, xy: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        pts = _as_xy(xy)
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
        pts = _as_xy(xy)
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
        pts = _as_xy(xy)
        return np.asarray(shapely.contains_xy(self.polygon, pts[:, 0], pts[:, 1]), dtype=bool)


@dataclass(frozen=True, slots=True)
class Homography:
    """Image -> road-plane (metres) transform with its measured error."""

    H: F64
    H_inv: F64
    rms_error_m: float
    max_error_m: float
    rms_error_px: float
    max_error_px: float
    valid_region: Polygon
    extent_m: float
    point_sigma_m: float = 0.15
    extra_scale_rel: float = 0.0

    @property
    def scale_rel_uncertainty(self) -> float:
        """1-sigma relative scale error of distances measured with this calibration: the point
        accuracy (or the RMS error, if larger) over the calibration's extent, and any assumed extra."""
        sigma = max(self.rms_error_m, self.point_sigma_m)
        return float(np.hypot(np.sqrt(2.0) * sigma / max(self.extent_m, 1e-6), self.extra_scale_rel))

    def image_to_world(self, xy: npt.ArrayLike) -> F64:
        pts = _as_xy(xy)
        if len(pts) == 0:
            return pts
        return np.asarray(cv2.perspectiveTransform(pts.reshape(-1, 1, 2), self.H), dtype=np.float64).reshape(
            -1, 2
        )

    def world_to_image(self, xy: npt.ArrayLike) -> F64:
        pts = _as_xy(xy)
        if len(pts) == 0:
            return pts
        return np.asarray(
            cv2.perspectiveTransform(pts.reshape(-1, 1, 2), self.H_inv), dtype=np.float64
        ).reshape(-1, 2)

    def in_valid_region(self, xy: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        pts = _as_xy(xy)
        return np.asarray(shapely.contains_xy(self.valid_region, pts[:, 0], pts[:, 1]), dtype=bool)


def _collinear(points: F64, tol: float) -> bool:
    """True when all points lie near one line (smallest singular value of the centred cloud)."""
    centred = points - points.mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    return bool(s[-1] / np.sqrt(len(points)) < tol)


def calibrate(
    image_points: Sequence[Sequence[float]],
    world_points: Sequence[Sequence[float]],
    valid_region: Sequence[Sequence[float]] | None = None,
    max_rms_error_m: float | None = None,
    where: str = "calibration",
    point_sigma_m: float = 0.15,
    extra_scale_rel: float = 0.0,
) -> Homography:
    """Fit the image->world homography from >= 4 correspondences and measure its reprojection error.

    Raises ConfigError on too few points, (near-)collinear points, a degenerate or non-invertible
    homography, or an RMS error above `max_rms_error_m`.
    """
    img = _as_xy(image_points)
    wld = _as_xy(world_points)
    if len(img) < 4 or len(img) != len(wld):
        raise ConfigError(
            f"{where}: need >= 4 image/world point pairs of equal count, got {len(img)}/{len(wld)}"
        )
    if _collinear(img, tol=2.0):
        raise ConfigError(f"{where}: image_points are (nearly) collinear; pick points spread over the road")
    if _collinear(wld, tol=0.05):
        raise ConfigError(f"{where}: world_points are (nearly) collinear; pick points spread over the road")
    found, _ = cv2.findHomography(img, wld, method=0)
    H = None if found is None else np.asarray(found, dtype=np.float64)
    if H is None or not np.all(np.isfinite(H)) or abs(np.linalg.det(H)) < 1e-12:
        raise ConfigError(f"{where}: the points give a degenerate homography")
    H = H / H[2, 2] if abs(H[2, 2]) > 1e-12 else H
    H_inv = np.linalg.inv(H)
    # every calibration point must project in front of the camera (w > 0 consistently)
    w = (np.c_[img, np.ones(len(img))] @ H.T)[:, 2]
    if not (np.all(w > 0) or np.all(w < 0)):
        raise ConfigError(f"{where}: image points lie on both sides of the horizon; check their order")
    proj_w = cv2.perspectiveTransform(img.reshape(-1, 1, 2), H).reshape(-1, 2)
    proj_i = cv2.perspectiveTransform(wld.reshape(-1, 1, 2), H_inv).reshape(-1, 2)
    err_m = np.linalg.norm(proj_w - wld, axis=1)
    err_px = np.linalg.norm(proj_i - img, axis=1)
    region = (
        Polygon(valid_region) if valid_region is not None else MultiPoint([tuple(p) for p in img]).convex_hull
    )
    homo = Homography(
        H=H,
        H_inv=H_inv,
        rms_error_m=float(np.sqrt((err_m**2).mean())),
        max_error_m=float(err_m.max()),
        rms_error_px=float(np.sqrt((err_px**2).mean())),
        max_error_px=float(err_px.max()),
        valid_region=region,
        extent_m=float(max(np.linalg.norm(wld[:, None] - wld[None], axis=2).max(), 1e-6)),
        point_sigma_m=point_sigma_m,
        extra_scale_rel=extra_scale_rel,
    )
    if max_rms_error_m is not None and homo.rms_error_m > max_rms_error_m:
        raise ConfigError(
            f"{where}: RMS reprojection error {homo.rms_error_m:.2f} m exceeds {max_rms_error_m} m; "
            "check the point pairs"
        )
    log.debug("%s: rms %.3f m / %.2f px", where, homo.rms_error_m, homo.rms_error_px)
    return homo


def calibration_from_config(cfg: CalibrationConfig, where: str = "rules.calibration") -> Homography:
    return calibrate(
        cfg.image_points,
        cfg.world_points,
        cfg.valid_region,
        cfg.max_reprojection_error_m,
        where,
        cfg.point_sigma_m,
        cfg.scale_uncertainty_rel,
    )


def _within(coords: F64, seg: npt.NDArray[np.int64], t_raw: F64, margin_px: float) -> npt.NDArray[np.bool_]:
    seg_len = np.linalg.norm(coords[1:] - coords[:-1], axis=1)[seg]
    lo = np.where(seg == 0, -margin_px / np.maximum(seg_len, 1e-9), -np.inf)
    hi = np.where(seg == len(coords) - 2, 1 + margin_px / np.maximum(seg_len, 1e-9), np.inf)
    return (t_raw >= lo) & (t_raw <= hi)


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
            coords = _as_xy(s.points)
            d, _, _, _ = polyline_projection(coords, [s.forward_point])
            cw = Polygon(s.crosswalk) if s.crosswalk else None
            stop_lines[s.id] = LineZone(s.id, LineString(coords), coords, 1.0 if d[0] > 0 else -1.0, cw)
        lanes = tuple(
            LaneZone(
                id=lane.id,
                polygon=Polygon(lane.polygon),
                centreline=_as_xy(lane.direction),
                allowed_classes=frozenset(lane.allowed_classes) if lane.allowed_classes is not None else None,
                stop_line=lane.stop_line,
                right_turn_on_red=lane.right_turn_on_red,
                turn_on_arrow=frozenset(lane.turn_on_arrow),
            )
            for lane in z.lanes
        )
        solid = tuple(LineZone(s.id, LineString(s.points), _as_xy(s.points)) for s in z.solid_lines)
        nsz = tuple(AreaZone(a.id, Polygon(a.polygon)) for a in z.no_stopping_zones)
        rtz = tuple(AreaZone(a.id, Polygon(a.polygon)) for a in z.right_turn_zones)
        homo = calibration_from_config(cfg.calibration) if cfg.calibration else None
        arrow_exits = tuple(TurnZone(a.id, Polygon(a.polygon), a.turn) for a in z.arrow_exit_zones)
        return cls(stop_lines, lanes, solid, nsz, rtz, homo, arrow_exits)

    def features(self, xy: npt.ArrayLike) -> PointFeatures:
        """Everything the rules ask about points, computed once per point (vectorized)."""
        pts = _as_xy(xy)
        n = len(pts)
        stop = list(self.stop_lines.values())
        stop_d = np.zeros((n, len(stop)))
        stop_in = np.zeros((n, len(stop)), bool)
        crosswalk = np.zeros((n, len(stop)), bool)
        for i, line in enumerate(stop):
            d, _, seg, t_raw = polyline_projection(line.coords, pts)
            stop_d[:, i] = line.side * d
            stop_in[:, i] = _within(line.coords, seg, t_raw, 0.0)
            if line.crosswalk is not None:
                crosswalk[:, i] = shapely.contains_xy(line.crosswalk, pts[:, 0], pts[:, 1])
        solid_d = np.zeros((n, len(self.solid_lines)))
        solid_in = np.zeros((n, len(self.solid_lines)), bool)
        for i, line in enumerate(self.solid_lines):
            d, _, seg, t_raw = polyline_projection(line.coords, pts)
            solid_d[:, i] = line.side * d
            solid_in[:, i] = _within(line.coords, seg, t_raw, 0.0)
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

    def lane_of(self, xy: Sequence[float]) -> LaneZone | None:
        """The first lane containing the point (lanes should not overlap)."""
        for lane in self.lanes:
            if lane.contains([xy])[0]:
                return lane
        return None


def check_polygon(points: Sequence[Sequence[float]], where: str) -> None:
    poly = Polygon(points)
    if not poly.is_valid:
        raise ConfigError(f"{where}: polygon is not valid ({explain_validity(poly)})")
    if poly.area <= 1.0:
        raise ConfigError(f"{where}: polygon has no area")


def check_inside(points: Sequence[Sequence[float]], image_size: tuple[int, int] | None, where: str) -> None:
    if image_size is None:
        return
    w, h = image_size
    for x, y in points:
        if not (0 <= x <= w and 0 <= y <= h):
            raise ConfigError(f"{where}: point ({x:g}, {y:g}) is outside the {w}x{h} image")


def _check_line(points: Sequence[Sequence[float]], where: str) -> None:
    line = LineString(points)
    if line.length < 2.0:
        raise ConfigError(f"{where}: line is shorter than 2 px")


def validate_rules_geometry(cfg: RulesConfig, image_size: tuple[int, int] | None) -> None:
    """Check ids, references, polygon validity, image bounds and the calibration; ConfigError names the zone."""
    z = cfg.zones
    seen: set[tuple[str, str]] = set()
    groups: dict[
        str, Sequence[StopLineConfig | LaneConfig | SolidLineConfig | ZoneConfig | TurnZoneConfig]
    ] = {
        "stop_lines": z.stop_lines,
        "lanes": z.lanes,
        "solid_lines": z.solid_lines,
        "no_stopping_zones": z.no_stopping_zones,
        "right_turn_zones": z.right_turn_zones,
        "arrow_exit_zones": z.arrow_exit_zones,
    }
    for group, items in groups.items():
        for item in items:
            key = (group, item.id)
            if key in seen:
                raise ConfigError(f"rules.zones.{group}: duplicate id {item.id!r}")
            seen.add(key)
    stop_ids = {s.id for s in z.stop_lines}
    for s in z.stop_lines:
        where = f"rules.zones.stop_lines[{s.id}]"
        _check_line(s.points, where)
        check_inside(s.points, image_size, where)
        d, _, _, _ = polyline_projection(_as_xy(s.points), [s.forward_point])
        if abs(d[0]) < 1.0:
            raise ConfigError(
                f"{where}: forward_point {s.forward_point} lies on the line; put it beyond the line"
            )
        if s.crosswalk:
            check_polygon(s.crosswalk, where + ".crosswalk")
            check_inside(s.crosswalk, image_size, where + ".crosswalk")
    from detector.types import VEHICLE_CLASSES

    for lane in z.lanes:
        where = f"rules.zones.lanes[{lane.id}]"
        check_polygon(lane.polygon, where)
        check_inside(lane.polygon, image_size, where)
        _check_line(lane.direction, where + ".direction")
        if lane.stop_line is not None and lane.stop_line not in stop_ids:
            raise ConfigError(
                f"{where}: references unknown stop line {lane.stop_line!r} (known: {sorted(stop_ids)})"
            )
        if lane.allowed_classes is not None:
            unknown = set(lane.allowed_classes) - VEHICLE_CLASSES
            if unknown:
                raise ConfigError(
                    f"{where}: unknown classes {sorted(unknown)}; known: {sorted(VEHICLE_CLASSES)}"
                )
    for sl in z.solid_lines:
        _check_line(sl.points, f"rules.zones.solid_lines[{sl.id}]")
        check_inside(sl.points, image_size, f"rules.zones.solid_lines[{sl.id}]")
    for a in [*z.no_stopping_zones, *z.right_turn_zones]:
        group = "no_stopping_zones" if a in z.no_stopping_zones else "right_turn_zones"
        check_polygon(a.polygon, f"rules.zones.{group}[{a.id}]")
        check_inside(a.polygon, image_size, f"rules.zones.{group}[{a.id}]")
    for tz in z.arrow_exit_zones:
        check_polygon(tz.polygon, f"rules.zones.arrow_exit_zones[{tz.id}]")
        check_inside(tz.polygon, image_size, f"rules.zones.arrow_exit_zones[{tz.id}]")
    lane_ids = {lane.id for lane in z.lanes}
    for i, lim in enumerate(cfg.rules.speeding.limits):
        for lid in lim.lanes or []:
            if lid not in lane_ids:
                raise ConfigError(
                    f"rules.rules.speeding.limits[{i}]: unknown lane {lid!r} (known: {sorted(lane_ids)})"
                )
    if cfg.calibration is not None:
        check_inside(cfg.calibration.image_points, image_size, "rules.calibration.image_points")
        if cfg.calibration.valid_region:
            check_polygon(cfg.calibration.valid_region, "rules.calibration.valid_region")
        calibration_from_config(cfg.calibration)
    if cfg.signal.source == "vision":
        for lamp in cfg.signal.lamps:
            x1, y1, x2, y2 = lamp.box
            check_inside([(x1, y1), (x2, y2)], image_size, f"rules.signal.lamps[{lamp.colour}]")
        for arrow in cfg.signal.arrows:
            x1, y1, x2, y2 = arrow.box
            check_inside([(x1, y1), (x2, y2)], image_size, f"rules.signal.arrows[{arrow.turn}]")
    sp = cfg.rules.speeding
    if sp.enabled and (sp.default_limit_kmh is not None or sp.limits) and cfg.calibration is None:
        raise ConfigError("rules.rules.speeding: speed limits are set but rules.calibration is missing")
