"""Settings of the rules stage: the scene (`scene.py`), the signal (`signal.py`) and each rule.

`RulesConfig` checks what needs no geometry library: ids unique per group, references between
zones, lanes, arrows and limits, class names, and that every point lies inside `image_size`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field, model_validator

from detector.base import FrozenModel
from detector.classes import VEHICLE_CLASSES
from detector.config.fields import Count, Fraction, NonNegative, Positive, check_inside, check_unique_ids
from detector.config.scene import CalibrationConfig, ZonesConfig
from detector.config.signal import SignalConfig
from detector.errors import ConfigError


class RedLightRuleConfig(FrozenModel):
    enabled: bool = Field(default=True, description="Apply the rule")
    grace_s: NonNegative = Field(
        default=0.5,
        description="The light must have been red this long while the vehicle was still behind the line",
    )
    line_tolerance_px: NonNegative = Field(
        default=4.0,
        description="Anchor within this distance of the line counts as on it (neither behind nor past)",
    )
    min_past_line_px: Positive = Field(
        default=25.0,
        description="Distance past the line that proves the vehicle proceeded into the intersection",
    )
    min_preceding_amber_s: NonNegative = Field(
        default=0.0,
        description="Skip (do not accuse) when the amber before the red was shorter than this",
    )
    right_turn_decision_s: NonNegative = Field(
        default=3.0,
        description="With right-turn zones: wait this long after crossing to see if the vehicle turns right",
    )


class StopLineRuleConfig(FrozenModel):
    enabled: bool = Field(default=True, description="Apply the rule")
    grace_s: NonNegative = Field(
        default=0.5, description="The light must have been red this long when the vehicle crossed"
    )
    line_tolerance_px: NonNegative = Field(default=4.0, description="Anchor this close to the line is on it")
    max_past_line_px: Positive = Field(
        default=60.0,
        description="Stopped farther past the line than this is not encroachment (it ran the light)",
    )
    min_stopped_s: Positive = Field(default=2.0, description="Stopped over the line at least this long")
    stopped_radius_px: Positive = Field(default=6.0, description="Anchor moving less than this is stopped")


class LaneRestrictionRuleConfig(FrozenModel):
    enabled: bool = Field(default=True, description="Apply the rule")
    min_duration_s: Positive = Field(default=2.0, description="Time in a closed lane before it is an offence")
    max_gap_s: NonNegative = Field(
        default=0.5, description="Missing observations shorter than this keep the run going"
    )
    min_class_agreement: Fraction = Field(
        default=0.7, description="Fraction of the track's frames that must agree on its class"
    )


class SolidLineRuleConfig(FrozenModel):
    enabled: bool = Field(default=True, description="Apply the rule")
    min_offset_px: Positive = Field(
        default=6.0, description="Anchor must be this far from the line to count as on a side"
    )
    confirm_frames: Count = Field(
        default=5, description="Consecutive frames clearly on each side before and after the crossing"
    )


class WrongWayRuleConfig(FrozenModel):
    enabled: bool = Field(default=True, description="Apply the rule")
    window_s: Positive = Field(default=1.0, description="Displacement window (s)")
    min_distance_px: Positive = Field(
        default=30.0, description="Displacement over the window to count as travel"
    )
    max_cosine: float = Field(
        default=-0.5,
        ge=-1,
        le=0,
        description="cos(angle to the lane direction) at or below this is against the lane",
    )
    min_duration_s: Positive = Field(default=1.5, description="Sustained against the lane for this long")


class SpeedLimitConfig(FrozenModel):
    limit_kmh: Positive = Field(description="Speed limit (km/h)")
    lanes: list[str] | None = Field(default=None, description="Lane ids it applies to; unset = all")
    classes: list[str] | None = Field(default=None, description="Vehicle classes it applies to; unset = all")


class SpeedingRuleConfig(FrozenModel):
    enabled: bool = Field(default=True, description="Apply the rule (needs a calibration)")
    default_limit_kmh: Positive | None = Field(
        default=None, description="Limit when no specific entry matches"
    )
    limits: list[SpeedLimitConfig] = Field(
        default_factory=list, description="Limits per lane/class; the most specific matching entry wins"
    )
    tolerance_kmh: NonNegative = Field(default=3.0, description="Added to the limit before comparing")
    window_s: Positive = Field(default=1.0, description="Regression window (s)")
    min_points: int = Field(default=6, ge=3, description="Observations needed in the window")
    sigma_k: Positive = Field(
        default=2.0, description="Uncertainty = k x combined standard error (k=2 ~ 95%)"
    )
    max_uncertainty_kmh: Positive = Field(
        default=15.0, description="Do not decide when the uncertainty is larger"
    )


class NoStoppingRuleConfig(FrozenModel):
    enabled: bool = Field(default=True, description="Apply the rule")
    max_dwell_s: Positive = Field(
        default=30.0, description="Stopped in the zone longer than this is an offence"
    )
    stopped_radius_px: Positive = Field(
        default=8.0, description="Anchor staying within this radius is stopped"
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
DEFAULT_JUDGED_CLASSES = tuple(sorted(VEHICLE_CLASSES))  # bicycle, bus, car, motorcycle, truck


class RulesConfig(FrozenModel):
    """Settings of the rules stage: the scene's zones, its calibration and signal, and each rule."""

    image_size: tuple[int, int] | None = Field(
        default=None, description="(width, height) of the camera image; when set, every zone must fit inside"
    )
    zones: ZonesConfig = Field(default_factory=ZonesConfig, description="Zones of the scene")
    calibration: CalibrationConfig | None = Field(default=None, description="Image-to-road homography")
    signal: SignalConfig = Field(default_factory=SignalConfig, description="Signal phase source")
    rules: RulesSettings = Field(default_factory=RulesSettings, description="Per-rule settings")
    dedup_window_s: Positive = Field(
        default=600.0,
        description="Same track, same offence, same zone within this window: reported once",
    )
    evidence_lookback_s: Positive = Field(
        default=4.0,
        description="The 'before' evidence frame is at most this long before the emission frame",
    )
    history_s: Positive = Field(default=60.0, description="Track history the rules look at (s)")
    vehicle_classes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_JUDGED_CLASSES),
        min_length=1,
        description="Track classes (majority over the track) the rules judge; other tracks (by default "
        "`person`: pedestrians and riders, whose motorbike is its own track) get no violation",
    )

    @model_validator(mode="after")
    def _check(self) -> RulesConfig:
        if self.rules.no_stopping.enabled and self.rules.no_stopping.max_dwell_s >= self.history_s:
            raise ValueError(
                f"rules.no_stopping.max_dwell_s ({self.rules.no_stopping.max_dwell_s}) must be below history_s "
                f"({self.history_s}): the engine keeps only history_s of each track"
            )
        unknown = set(self.vehicle_classes) - {*DEFAULT_JUDGED_CLASSES, "person"}
        if unknown:
            raise ValueError(f"vehicle_classes: unknown classes {sorted(unknown)}")
        check_references(self)
        check_bounds(self, self.image_size)
        return self


def _check_unique_zone_ids(z: ZonesConfig) -> None:
    groups: dict[str, Sequence[str]] = {
        "stop_lines": [s.id for s in z.stop_lines],
        "lanes": [lane.id for lane in z.lanes],
        "solid_lines": [s.id for s in z.solid_lines],
        "no_stopping_zones": [a.id for a in z.no_stopping_zones],
        "right_turn_zones": [a.id for a in z.right_turn_zones],
        "arrow_exit_zones": [a.id for a in z.arrow_exit_zones],
    }
    for group, ids in groups.items():
        check_unique_ids(ids, f"rules.zones.{group}")


def _check_arrow_turns(cfg: RulesConfig) -> None:
    arrow_turns = {a.turn for a in cfg.signal.arrows}
    exit_turns = {z.turn for z in cfg.zones.arrow_exit_zones}
    for lane in cfg.zones.lanes:
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


def check_references(cfg: RulesConfig) -> None:
    """Ids unique per group; lanes name known stop lines and classes; limits name known lanes; arrows
    have their exit zones; speed limits have a calibration. ConfigError names the zone or rule."""
    z = cfg.zones
    _check_unique_zone_ids(z)
    _check_arrow_turns(cfg)
    stop_ids = {s.id for s in z.stop_lines}
    for lane in z.lanes:
        where = f"rules.zones.lanes[{lane.id}]"
        if lane.stop_line is not None and lane.stop_line not in stop_ids:
            raise ConfigError(
                f"{where}: references unknown stop line {lane.stop_line!r} (known: {sorted(stop_ids)})"
            )
        unknown = set(lane.allowed_classes or ()) - VEHICLE_CLASSES
        if unknown:
            raise ConfigError(f"{where}: unknown classes {sorted(unknown)}; known: {sorted(VEHICLE_CLASSES)}")
    lane_ids = {lane.id for lane in z.lanes}
    for i, lim in enumerate(cfg.rules.speeding.limits):
        for lid in lim.lanes or []:
            if lid not in lane_ids:
                raise ConfigError(
                    f"rules.rules.speeding.limits[{i}]: unknown lane {lid!r} (known: {sorted(lane_ids)})"
                )
    sp = cfg.rules.speeding
    if sp.enabled and (sp.default_limit_kmh is not None or sp.limits) and cfg.calibration is None:
        raise ConfigError("rules.rules.speeding: speed limits are set but rules.calibration is missing")


def check_bounds(cfg: RulesConfig, image_size: tuple[int, int] | None) -> None:
    """Every zone, line, calibration point and lamp box inside an `image_size` image (None: no check)."""
    if image_size is None:
        return
    z = cfg.zones
    shapes: list[tuple[str, Sequence[Sequence[float]]]] = []
    for s in z.stop_lines:
        shapes.append((f"rules.zones.stop_lines[{s.id}]", s.points))
        if s.crosswalk:
            shapes.append((f"rules.zones.stop_lines[{s.id}].crosswalk", s.crosswalk))
    shapes += [(f"rules.zones.lanes[{lane.id}]", lane.polygon) for lane in z.lanes]
    shapes += [(f"rules.zones.solid_lines[{sl.id}]", sl.points) for sl in z.solid_lines]
    shapes += [(f"rules.zones.no_stopping_zones[{a.id}]", a.polygon) for a in z.no_stopping_zones]
    shapes += [(f"rules.zones.right_turn_zones[{a.id}]", a.polygon) for a in z.right_turn_zones]
    shapes += [(f"rules.zones.arrow_exit_zones[{a.id}]", a.polygon) for a in z.arrow_exit_zones]
    if cfg.calibration is not None:
        shapes.append(("rules.calibration.image_points", cfg.calibration.image_points))
    if cfg.signal.source == "vision":
        shapes += [(f"rules.signal.lamps[{lamp.colour}]", _corners(lamp.box)) for lamp in cfg.signal.lamps]
        shapes += [(f"rules.signal.arrows[{a.turn}]", _corners(a.box)) for a in cfg.signal.arrows]
    for where, points in shapes:
        check_inside(points, image_size, where)


def _corners(box: Sequence[float]) -> list[tuple[float, float]]:
    x1, y1, x2, y2 = box
    return [(x1, y1), (x2, y2)]
