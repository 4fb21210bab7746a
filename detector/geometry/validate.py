"""Checks of a rules config that need the shapes themselves: valid polygons, lines of some length, a
stop line's forward point off the line, a homography that fits. The structural checks (ids,
references, classes, image bounds) are the config's own (`detector.config.rules`); they run again
here with the image size a source gives at run time. ConfigError names the zone."""

from __future__ import annotations

from collections.abc import Sequence

from shapely.geometry import LineString, Polygon
from shapely.validation import explain_validity

from detector.config import RulesConfig
from detector.config.rules import check_bounds
from detector.errors import ConfigError
from detector.geometry.homography import calibration_from_config
from detector.geometry.zones import as_xy, polyline_projection


def check_polygon(points: Sequence[Sequence[float]], where: str) -> None:
    poly = Polygon(points)
    if not poly.is_valid:
        raise ConfigError(f"{where}: polygon is not valid ({explain_validity(poly)})")
    if poly.area <= 1.0:
        raise ConfigError(f"{where}: polygon has no area")


def check_line(points: Sequence[Sequence[float]], where: str) -> None:
    line = LineString(points)
    if line.length < 2.0:
        raise ConfigError(f"{where}: line is shorter than 2 px")


def _check_stop_lines(cfg: RulesConfig) -> None:
    for s in cfg.zones.stop_lines:
        where = f"rules.zones.stop_lines[{s.id}]"
        check_line(s.points, where)
        d, _, _, _ = polyline_projection(as_xy(s.points), [s.forward_point])
        if abs(d[0]) < 1.0:
            raise ConfigError(
                f"{where}: forward_point {s.forward_point} lies on the line; put it beyond the line"
            )
        if s.crosswalk:
            check_polygon(s.crosswalk, where + ".crosswalk")


def _check_shapes(cfg: RulesConfig) -> None:
    z = cfg.zones
    for lane in z.lanes:
        check_polygon(lane.polygon, f"rules.zones.lanes[{lane.id}]")
        check_line(lane.direction, f"rules.zones.lanes[{lane.id}].direction")
    for sl in z.solid_lines:
        check_line(sl.points, f"rules.zones.solid_lines[{sl.id}]")
    areas = [
        *(("no_stopping_zones", a.id, a.polygon) for a in z.no_stopping_zones),
        *(("right_turn_zones", a.id, a.polygon) for a in z.right_turn_zones),
        *(("arrow_exit_zones", a.id, a.polygon) for a in z.arrow_exit_zones),
    ]
    for group, zid, polygon in areas:
        check_polygon(polygon, f"rules.zones.{group}[{zid}]")


def validate_rules_geometry(cfg: RulesConfig, image_size: tuple[int, int] | None) -> None:
    """The shapes of every zone and line, the calibration's fit, and (again) the image bounds for
    `image_size`, which a source may give when the config has none."""
    check_bounds(cfg, image_size)
    _check_stop_lines(cfg)
    _check_shapes(cfg)
    if cfg.calibration is not None:
        if cfg.calibration.valid_region:
            check_polygon(cfg.calibration.valid_region, "rules.calibration.valid_region")
        calibration_from_config(cfg.calibration)
