"""Scene geometry: zones as shapely shapes with vectorized numpy answers (`zones`), the road-plane
homography (`homography`), the scene built once from a camera's rules config (`scene`) and the
checks of a config that need the shapes (`validate`)."""

from __future__ import annotations

from detector.geometry.homography import Homography, calibrate, calibration_from_config
from detector.geometry.scene import PointFeatures, Scene
from detector.geometry.validate import check_line, check_polygon, validate_rules_geometry
from detector.geometry.zones import AreaZone, LaneZone, LineZone, TurnZone, as_xy, polyline_projection

__all__ = [
    "AreaZone",
    "Homography",
    "LaneZone",
    "LineZone",
    "PointFeatures",
    "Scene",
    "TurnZone",
    "as_xy",
    "calibrate",
    "calibration_from_config",
    "check_line",
    "check_polygon",
    "polyline_projection",
    "validate_rules_geometry",
]
