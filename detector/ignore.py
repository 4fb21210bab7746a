"""The ignore mask: image areas (overlays such as a recorder's window, a phone's status bar, a camera's
caption or clock) whose detections are dropped before tracking."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Polygon

from detector.config import IgnoreZoneConfig
from detector.geometry import check_polygon


@dataclass(frozen=True, slots=True)
class IgnoreMask:
    """Image areas whose detections are discarded before tracking (overlays: recorder windows, status
    bars, captions). A detection is discarded when its box centre lies in any of the polygons."""

    polygons: tuple[Polygon, ...] = ()

    @classmethod
    def from_config(cls, zones: Sequence[IgnoreZoneConfig]) -> IgnoreMask:
        """The mask of a camera's `ignore` zones; ConfigError names a zone whose polygon is not valid
        (ids and image bounds are the config's own checks)."""
        for zone in zones:
            check_polygon(zone.polygon, f"ignore[{zone.id}]")
        return cls.from_polygons([zone.polygon for zone in zones])

    @classmethod
    def from_polygons(cls, polygons: Sequence[Sequence[Sequence[float]]]) -> IgnoreMask:
        return cls(tuple(Polygon(p) for p in polygons))

    def __bool__(self) -> bool:
        return bool(self.polygons)

    def keep(self, xyxy: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """(N,) True for boxes (x1, y1, x2, y2) whose centre is outside every ignore polygon."""
        boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        cx = (boxes[:, 0] + boxes[:, 2]) / 2
        cy = (boxes[:, 1] + boxes[:, 3]) / 2
        inside = np.zeros(len(boxes), bool)
        for poly in self.polygons:
            inside |= np.asarray(shapely.contains_xy(poly, cx, cy), dtype=bool)
        return ~inside
