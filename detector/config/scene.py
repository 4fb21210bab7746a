"""The scene as drawn on the camera image: stop lines, lanes, solid lines, zones, and the surveyed
points of the road-plane calibration.

All geometry is in pixels of the camera image (x right, y down); calibration world points are in
metres on the road plane. Checked here: field shapes and counts; the ids, references and image
bounds are checked by `RulesConfig`, and the shapes themselves (valid polygons, lines, the
homography fit) by `detector.geometry` when the scene is built.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from detector.base import FrozenModel
from detector.config.fields import Id, ImagePolygon, ImagePolyline, Point, WorldPoint


class StopLineConfig(FrozenModel):
    id: Id = Field(description="Stop line id, referenced by lanes and named in violations")
    points: ImagePolyline = Field(description="Polyline along the painted stop line (pixels)")
    forward_point: Point = Field(
        description="Any image point on the intersection side of the line (the side a vehicle enters when it crosses)"
    )
    crosswalk: ImagePolygon | None = Field(
        default=None,
        description="Optional crosswalk polygon beyond the line (stopping on it is encroachment)",
    )


class LaneConfig(FrozenModel):
    id: Id = Field(description="Lane id, named in violations and speed limits")
    polygon: ImagePolygon = Field(description="Lane area on the image (pixels)")
    direction: ImagePolyline = Field(
        description="Centreline in the direction of travel (first point upstream); a 2-point list is a vector",
    )
    allowed_classes: list[str] | None = Field(
        default=None, description="Vehicle classes allowed in the lane (COCO names); unset = all vehicles"
    )
    stop_line: str | None = Field(default=None, description="Id of the stop line this lane approaches")
    right_turn_on_red: bool = Field(
        default=False, description="Vehicles from this lane may turn right on red"
    )
    turn_on_arrow: list[Literal["left", "right"]] = Field(
        default_factory=list,
        description="Turns vehicles from this lane may make on red while the signal's arrow for that turn is lit "
        "(rules.signal.arrows); a vehicle that crosses then is exempt only if it reaches an exit zone of that turn "
        "(zones.arrow_exit_zones)",
    )


class SolidLineConfig(FrozenModel):
    id: Id = Field(description="Solid line id")
    points: ImagePolyline = Field(description="Polyline along the painted solid line (pixels)")


class ZoneConfig(FrozenModel):
    id: Id = Field(description="Zone id")
    polygon: ImagePolygon = Field(description="Zone area on the image (pixels)")


class TurnZoneConfig(FrozenModel):
    id: Id = Field(description="Zone id")
    polygon: ImagePolygon = Field(description="Exit area on the image (pixels)")
    turn: Literal["left", "right"] = Field(description="The turn that leads into this exit area")


class ZonesConfig(FrozenModel):
    stop_lines: list[StopLineConfig] = Field(default_factory=list, description="Stop lines at signals")
    lanes: list[LaneConfig] = Field(
        default_factory=list, description="Lane polygons with direction and classes"
    )
    solid_lines: list[SolidLineConfig] = Field(
        default_factory=list, description="Solid lane lines (no crossing)"
    )
    no_stopping_zones: list[ZoneConfig] = Field(
        default_factory=list, description="Areas where stopping is banned"
    )
    right_turn_zones: list[ZoneConfig] = Field(
        default_factory=list,
        description="Exit areas of a free right turn: a vehicle that crosses on red and enters one is not a red-light violator",
    )
    arrow_exit_zones: list[TurnZoneConfig] = Field(
        default_factory=list,
        description="Exit areas of turns controlled by an arrow: a vehicle from a lane with `turn_on_arrow` that "
        "crosses on red while that turn's arrow is lit and enters one of that turn is not a red-light violator",
    )


class CalibrationConfig(FrozenModel):
    image_points: list[Point] = Field(
        min_length=4, description="Image points (pixels) of known road positions"
    )
    world_points: list[WorldPoint] = Field(
        min_length=4, description="The same points on the road plane, in metres"
    )
    valid_region: list[Point] | None = Field(
        default=None,
        description="Where speeds may be measured (pixels); unset = convex hull of the image points",
    )
    point_sigma_m: float = Field(
        default=0.15,
        gt=0,
        description="Assumed accuracy of each surveyed/estimated world point (m); with the RMS reprojection "
        "error it sets the scale uncertainty of measured speeds",
    )
    scale_uncertainty_rel: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="Extra relative (1-sigma) scale uncertainty of an unsurveyed calibration, e.g. 0.1 when "
        "the dash period or lane width is assumed from a standard rather than measured",
    )
    max_reprojection_error_m: float = Field(
        default=1.0,
        gt=0,
        description="Reject a calibration whose RMS reprojection error exceeds this (metres)",
    )
    note: str = Field(default="", description="How the points were measured (for the reviewer)")

    @model_validator(mode="after")
    def _check(self) -> CalibrationConfig:
        if len(self.image_points) != len(self.world_points):
            raise ValueError(
                f"calibration: {len(self.image_points)} image_points but {len(self.world_points)} world_points"
            )
        return self
