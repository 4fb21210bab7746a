"""Configuration of the rules stage (owned by the rules module): zones, calibration, signal, rules.

All geometry is in pixels of the camera image (x right, y down); calibration world points are in
metres on the road plane. Validation here is structural (ids, counts, polygon validity, references,
image bounds); `detector.geometry.calibrate` checks the homography itself and is called from here too,
so a degenerate calibration fails when the config is loaded, not in the middle of a replay.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from detector.base import FrozenModel, Point

#: A point on the road plane in metres (any right-handed frame the operator chose).
WorldPoint = tuple[float, float]
#: A pixel box (x1, y1, x2, y2).
Box = tuple[float, float, float, float]

_ID = r"^[A-Za-z0-9_.-]{1,64}$"


class StopLineConfig(FrozenModel):
    id: str = Field(pattern=_ID, description="Stop line id, referenced by lanes and named in violations")
    points: list[Point] = Field(min_length=2, description="Polyline along the painted stop line (pixels)")
    forward_point: Point = Field(
        description="Any image point on the intersection side of the line (the side a vehicle enters when it crosses)"
    )
    crosswalk: list[Point] | None = Field(
        default=None,
        description="Optional crosswalk polygon beyond the line (stopping on it is encroachment)",
    )


class LaneConfig(FrozenModel):
    id: str = Field(pattern=_ID, description="Lane id, named in violations and speed limits")
    polygon: list[Point] = Field(min_length=3, description="Lane area on the image (pixels)")
    direction: list[Point] = Field(
        min_length=2,
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
    id: str = Field(pattern=_ID, description="Solid line id")
    points: list[Point] = Field(min_length=2, description="Polyline along the painted solid line (pixels)")


class ZoneConfig(FrozenModel):
    id: str = Field(pattern=_ID, description="Zone id")
    polygon: list[Point] = Field(min_length=3, description="Zone area on the image (pixels)")


class TurnZoneConfig(FrozenModel):
    id: str = Field(pattern=_ID, description="Zone id")
    polygon: list[Point] = Field(min_length=3, description="Exit area on the image (pixels)")
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


class SignalPlanConfig(FrozenModel):
    """A fixed-time controller plan. Order in a cycle: green, amber, red (red ends the cycle)."""

    green_s: float = Field(gt=0, description="Green duration (s)")
    amber_s: float = Field(gt=0, description="Amber duration (s)")
    red_s: float = Field(gt=0, description="Red duration (s)")
    offset_s: float = Field(default=0.0, description="Stream time (s) at which a green phase starts")


class LampConfig(FrozenModel):
    colour: Literal["red", "amber", "green"] = Field(description="Which lamp this box covers")
    box: Box = Field(description="Lamp box (x1, y1, x2, y2) in pixels")


class ArrowConfig(FrozenModel):
    turn: Literal["left", "right"] = Field(description="The turn this arrow lamp allows when lit")
    box: Box = Field(description="Arrow lamp box (x1, y1, x2, y2) in pixels")
    colour: Literal["green"] = Field(default="green", description="Colour of the lit arrow")
    min_lit_fraction: float = Field(
        default=0.08,
        gt=0,
        le=1,
        description="Fraction of lit pixels of the arrow's colour for the arrow to count as on (an arrow "
        "lights less of its box than a round lamp)",
    )


class SignalConfig(FrozenModel):
    source: Literal["none", "vision", "controller_plan", "controller_file"] = Field(
        default="none", description="Where the phase comes from"
    )
    lamps: list[LampConfig] = Field(
        default_factory=list, description="vision: one box per lamp of the signal head"
    )
    arrows: list[ArrowConfig] = Field(
        default_factory=list, description="vision: turn-arrow lamps (each read on its own, lit or dark)"
    )
    hysteresis_frames: int = Field(
        default=3,
        ge=1,
        description="vision: frames a new phase (or arrow state) must persist before it is accepted",
    )
    min_lit_value: int = Field(
        default=140, ge=0, le=255, description="vision: HSV value above which a pixel is lit"
    )
    min_lit_fraction: float = Field(
        default=0.15,
        gt=0,
        le=1,
        description="vision: fraction of lit, coloured pixels for a lamp to count as on",
    )
    plan: SignalPlanConfig | None = Field(default=None, description="controller_plan: the timing plan")
    file: str | None = Field(
        default=None,
        description="controller_file: CSV or JSONL of (timestamp, phase); relative to the config file",
    )
    time_base: Literal["stream", "wall"] = Field(
        default="stream",
        description="Controller time: stream seconds (replays) or epoch seconds from Frame.wall_time (live)",
    )

    @model_validator(mode="after")
    def _check(self) -> SignalConfig:
        if self.source == "vision":
            colours = [lamp.colour for lamp in self.lamps]
            if "red" not in colours:
                raise ValueError("signal.source=vision needs at least a 'red' lamp box in signal.lamps")
            if len(set(colours)) != len(colours):
                raise ValueError(f"signal.lamps: one box per colour, got {colours}")
            for lamp in self.lamps:
                x1, y1, x2, y2 = lamp.box
                if x2 <= x1 or y2 <= y1:
                    raise ValueError(
                        f"signal.lamps[{lamp.colour}]: box {lamp.box} is empty (need x2>x1, y2>y1)"
                    )
        if self.arrows:
            if self.source != "vision":
                raise ValueError(f"signal.arrows are read by vision only (signal.source is {self.source!r})")
            turns = [a.turn for a in self.arrows]
            if len(set(turns)) != len(turns):
                raise ValueError(f"signal.arrows: one arrow per turn, got {turns}")
            for a in self.arrows:
                x1, y1, x2, y2 = a.box
                if x2 <= x1 or y2 <= y1:
                    raise ValueError(f"signal.arrows[{a.turn}]: box {a.box} is empty (need x2>x1, y2>y1)")
        if self.source == "controller_plan" and self.plan is None:
            raise ValueError("signal.source=controller_plan needs signal.plan")
        if self.source == "controller_file" and not self.file:
            raise ValueError("signal.source=controller_file needs signal.file")
        return self


class RedLightRuleConfig(FrozenModel):
    enabled: bool = Field(default=True, description="Apply the rule")
    grace_s: float = Field(
        default=0.5,
        ge=0,
        description="The light must have been red this long while the vehicle was still behind the line",
    )
    line_tolerance_px: float = Field(
        default=4.0,
        ge=0,
        description="Anchor within this distance of the line counts as on it (neither behind nor past)",
    )
    min_past_line_px: float = Field(
        default=25.0,
        gt=0,
        description="Distance past the line that proves the vehicle proceeded into the intersection",
    )
    min_preceding_amber_s: float = Field(
        default=0.0,
        ge=0,
        description="Skip (do not accuse) when the amber before the red was shorter than this",
    )
    right_turn_decision_s: float = Field(
        default=3.0,
        ge=0,
        description="With right-turn zones: wait this long after crossing to see if the vehicle turns right",
    )


class StopLineRuleConfig(FrozenModel):
    enabled: bool = Field(default=True, description="Apply the rule")
    grace_s: float = Field(
        default=0.5, ge=0, description="The light must have been red this long when the vehicle crossed"
    )
    line_tolerance_px: float = Field(default=4.0, ge=0, description="Anchor this close to the line is on it")
    max_past_line_px: float = Field(
        default=60.0,
        gt=0,
        description="Stopped farther past the line than this is not encroachment (it ran the light)",
    )
    min_stopped_s: float = Field(default=2.0, gt=0, description="Stopped over the line at least this long")
    stopped_radius_px: float = Field(default=6.0, gt=0, description="Anchor moving less than this is stopped")


class LaneRestrictionRuleConfig(FrozenModel):
    enabled: bool = Field(default=True, description="Apply the rule")
    min_duration_s: float = Field(
        default=2.0, gt=0, description="Time in a closed lane before it is an offence"
    )
    max_gap_s: float = Field(
        default=0.5, ge=0, description="Missing observations shorter than this keep the run going"
    )
    min_class_agreement: float = Field(
        default=0.7, gt=0, le=1, description="Fraction of the track's frames that must agree on its class"
    )


class SolidLineRuleConfig(FrozenModel):
    enabled: bool = Field(default=True, description="Apply the rule")
    min_offset_px: float = Field(
        default=6.0, gt=0, description="Anchor must be this far from the line to count as on a side"
    )
    confirm_frames: int = Field(
        default=5, ge=1, description="Consecutive frames clearly on each side before and after the crossing"
    )


class WrongWayRuleConfig(FrozenModel):
    enabled: bool = Field(default=True, description="Apply the rule")
    window_s: float = Field(default=1.0, gt=0, description="Displacement window (s)")
    min_distance_px: float = Field(
        default=30.0, gt=0, description="Displacement over the window to count as travel"
    )
    max_cosine: float = Field(
        default=-0.5,
        ge=-1,
        le=0,
        description="cos(angle to the lane direction) at or below this is against the lane",
    )
    min_duration_s: float = Field(default=1.5, gt=0, description="Sustained against the lane for this long")


class SpeedLimitConfig(FrozenModel):
    limit_kmh: float = Field(gt=0, description="Speed limit (km/h)")
    lanes: list[str] | None = Field(default=None, description="Lane ids it applies to; unset = all")
    classes: list[str] | None = Field(default=None, description="Vehicle classes it applies to; unset = all")


class SpeedingRuleConfig(FrozenModel):
    enabled: bool = Field(default=True, description="Apply the rule (needs a calibration)")
    default_limit_kmh: float | None = Field(
        default=None, gt=0, description="Limit when no specific entry matches"
    )
    limits: list[SpeedLimitConfig] = Field(
        default_factory=list, description="Limits per lane/class; the most specific matching entry wins"
    )
    tolerance_kmh: float = Field(default=3.0, ge=0, description="Added to the limit before comparing")
    window_s: float = Field(default=1.0, gt=0, description="Regression window (s)")
    min_points: int = Field(default=6, ge=3, description="Observations needed in the window")
    sigma_k: float = Field(
        default=2.0, gt=0, description="Uncertainty = k x combined standard error (k=2 ~ 95%)"
    )
    max_uncertainty_kmh: float = Field(
        default=15.0, gt=0, description="Do not decide when the uncertainty is larger"
    )


class NoStoppingRuleConfig(FrozenModel):
    enabled: bool = Field(default=True, description="Apply the rule")
    max_dwell_s: float = Field(
        default=30.0, gt=0, description="Stopped in the zone longer than this is an offence"
    )
    stopped_radius_px: float = Field(
        default=8.0, gt=0, description="Anchor staying within this radius is stopped"
    )


class RulesSettings(FrozenModel):
    red_light: RedLightRuleConfig = Field(default_factory=RedLightRuleConfig, description="Red light")
    stop_line: StopLineRuleConfig = Field(
        default_factory=StopLineRuleConfig, description="Stop-line encroachment"
    )
    lane_restriction: LaneRestrictionRuleConfig = Field(
        default_factory=LaneRestrictionRuleConfig, description="Lane classes"
    )
    solid_line: SolidLineRuleConfig = Field(
        default_factory=SolidLineRuleConfig, description="Solid-line crossing"
    )
    wrong_way: WrongWayRuleConfig = Field(default_factory=WrongWayRuleConfig, description="Wrong way")
    speeding: SpeedingRuleConfig = Field(default_factory=SpeedingRuleConfig, description="Speeding")
    no_stopping: NoStoppingRuleConfig = Field(default_factory=NoStoppingRuleConfig, description="No stopping")


#: Classes the rules judge by default: vehicles. A `person` track is a pedestrian or a rider whose
#: motorbike is its own track; it never gets a vehicle's violation.
DEFAULT_JUDGED_CLASSES = ("bicycle", "bus", "car", "motorcycle", "truck")


class RulesConfig(FrozenModel):
    """Settings of the rules stage: the scene's zones, its calibration and signal, and each rule."""

    image_size: tuple[int, int] | None = Field(
        default=None, description="(width, height) of the camera image; when set, every zone must fit inside"
    )
    zones: ZonesConfig = Field(default_factory=ZonesConfig, description="Zones of the scene")
    calibration: CalibrationConfig | None = Field(default=None, description="Image-to-road homography")
    signal: SignalConfig = Field(default_factory=SignalConfig, description="Signal phase source")
    rules: RulesSettings = Field(default_factory=RulesSettings, description="Per-rule settings")
    dedup_window_s: float = Field(
        default=600.0,
        gt=0,
        description="Same track, same offence, same zone within this window: reported once",
    )
    evidence_lookback_s: float = Field(
        default=4.0,
        gt=0,
        description="The 'before' evidence frame is at most this long before the emission frame",
    )
    history_s: float = Field(default=60.0, gt=0, description="Track history the rules look at (s)")
    vehicle_classes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_JUDGED_CLASSES),
        min_length=1,
        description="Track classes (majority over the track) the rules judge; other tracks (by default "
        "`person`: pedestrians and riders, whose motorbike is its own track) get no violation",
    )

    @model_validator(mode="after")
    def _check(self) -> RulesConfig:
        from detector.geometry import validate_rules_geometry

        if self.rules.no_stopping.enabled and self.rules.no_stopping.max_dwell_s >= self.history_s:
            raise ValueError(
                f"rules.no_stopping.max_dwell_s ({self.rules.no_stopping.max_dwell_s}) must be below history_s "
                f"({self.history_s}): the engine keeps only history_s of each track"
            )
        unknown = set(self.vehicle_classes) - {*DEFAULT_JUDGED_CLASSES, "person"}
        if unknown:
            raise ValueError(f"vehicle_classes: unknown classes {sorted(unknown)}")
        arrow_turns = {a.turn for a in self.signal.arrows}
        exit_turns = {z.turn for z in self.zones.arrow_exit_zones}
        for lane in self.zones.lanes:
            for turn in lane.turn_on_arrow:
                if turn not in arrow_turns:
                    raise ValueError(
                        f"zones.lanes[{lane.id}].turn_on_arrow: no {turn!r} arrow in signal.arrows "
                        f"(arrows: {sorted(arrow_turns)})"
                    )
                if turn not in exit_turns:
                    raise ValueError(
                        f"zones.lanes[{lane.id}].turn_on_arrow: no {turn!r} zone in zones.arrow_exit_zones"
                    )
        validate_rules_geometry(self, self.image_size)
        return self
