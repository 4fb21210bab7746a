"""What each rule measured, as one frozen dataclass per rule: the typed stage result a `Violation`
carries from the rule to the evidence manifest, the store, the fine schedule and the API.

Every class has a `kind` (the violation type's value, or `section_speed`) that tells them apart in
JSON (`measures_json` / `parse_measures`); the manifest's JSON Schema lists each class's fields.
Consumers read fields (`m.time_into_red_s`, `m.excess_kmh`), never keys, so a renamed field is a
type error and a failing test, not a silently different fine.

Bundles written before manifest_version 3 carry a string-keyed dict; `legacy_measures` reads it
by field name (their keys are these fields' names), taking a missing optional field as None.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import cache
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, TypeAdapter, ValidationError

Scalar = float | int | str | bool | None


class MeasuresError(ValueError):
    """Measured values that do not fit their rule's measurements (names the kind and the fields)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Measures:
    # unknown fields are errors when pydantic reads these (manifests, the API's schema)
    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.generic):  # numpy scalars from the rules' arrays: plain JSON values
                v = v.item()
                object.__setattr__(self, f.name, v)
            if isinstance(v, float) and not math.isfinite(v):
                raise MeasuresError(f"{type(self).__name__}.{f.name} is {v}: measured values are finite")

    @property
    def review_reasons(self) -> tuple[str, ...]:
        """Why the rule itself asks a person to look before a fine (none by default)."""
        return ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RedLightMeasures(_Measures):
    """Crossed the stop line on red: the phase and time into red at the crossing, and at the last frame
    the vehicle was clearly behind the line; the preceding amber; how far behind and past the line."""

    kind: Literal["red_light"] = "red_light"
    phase: str
    time_into_red_s: float
    time_into_red_behind_line_s: float
    preceding_amber_s: float | None
    distance_behind_line_px: float
    distance_past_line_px: float
    lane_id: str | None
    arrow_lit: str | None = None  # turns whose arrow was lit at the crossing (comma-separated)


@dataclass(frozen=True, slots=True, kw_only=True)
class StopLineMeasures(_Measures):
    """Stopped over the stop line during red: time into red now and at the crossing, how long stopped."""

    kind: Literal["stop_line"] = "stop_line"
    phase: str
    time_into_red_s: float | None
    time_into_red_at_crossing_s: float
    preceding_amber_s: float | None
    stopped_s: float
    distance_past_line_px: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeedMeasures(_Measures):
    """A measured speed with its uncertainty (k-sigma) against the limit that applied."""

    speed_kmh: float
    speed_uncertainty_kmh: float
    limit_kmh: float
    tolerance_kmh: float

    @property
    def excess_kmh(self) -> float:
        """Excess over the limit minus the uncertainty (the driver gets the benefit of the doubt)."""
        return self.speed_kmh - self.limit_kmh - self.speed_uncertainty_kmh


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeedingMeasures(SpeedMeasures):
    """Speed over one window of the track on the road plane (homography)."""

    kind: Literal["speeding"] = "speeding"
    regression_se_kmh: float
    calibration_se_kmh: float
    window_s: float
    n_points: int
    calibration_rms_m: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SectionSpeedMeasures(SpeedMeasures):
    """Average speed between two cameras of a section (distance / travel time)."""

    kind: Literal["section_speed"] = "section_speed"
    distance_m: float
    travel_s: float
    plate_match: str
    plate_match_confidence: float
    entry_camera: str
    exit_camera: str
    entry_event_id: str | None
    exit_event_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LaneRestrictionMeasures(_Measures):
    """A class in a lane closed to it: the class, how much the track's frames agree on it, how long."""

    kind: Literal["lane_restriction"] = "lane_restriction"
    vehicle_class: str
    class_agreement: float
    allowed_classes: str  # comma-separated
    duration_in_lane_s: float
    min_duration_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SolidLineMeasures(_Measures):
    """Crossed a solid line: clear offsets on each side, over `confirm_frames` frames each."""

    kind: Literal["solid_line"] = "solid_line"
    offset_before_px: float
    offset_after_px: float
    confirm_frames: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WrongWayMeasures(_Measures):
    """Moved against the lane direction: mean cosine to it, distance and duration of the run."""

    kind: Literal["wrong_way"] = "wrong_way"
    cosine_to_lane: float
    distance_px: float
    duration_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class NoStoppingMeasures(_Measures):
    """Stopped in a no-stopping zone: the dwell, the limit, when the stop began (stream time)."""

    kind: Literal["no_stopping"] = "no_stopping"
    dwell_s: float
    max_dwell_s: float
    stopped_since_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class NoHelmetMeasures(_Measures):
    """A rider without a helmet by votes over their clear looks."""

    kind: Literal["no_helmet"] = "no_helmet"
    rider_track_id: int
    votes_no_helmet: int
    votes_clear: int
    looks: int
    no_helmet_fraction: float
    mean_p_no_helmet: float
    head_box: str | None
    needs_review: bool

    @property
    def review_reasons(self) -> tuple[str, ...]:
        if not self.needs_review:
            return ()
        return (f"helmet: {self.votes_no_helmet} of {self.votes_clear} clear looks say no helmet",)


@dataclass(frozen=True, slots=True, kw_only=True)
class TooManyRidersMeasures(_Measures):
    """More people on a two-wheeler than allowed, held over `held_s`."""

    kind: Literal["too_many_riders"] = "too_many_riders"
    riders: int
    four_or_more: bool
    held_s: float
    needs_review: bool = True

    @property
    def review_reasons(self) -> tuple[str, ...]:
        if not self.needs_review:
            return ()
        return ("riders: the decree's exemptions (a sick person, a child under 12, ...) cannot be seen",)


@dataclass(frozen=True, slots=True, kw_only=True)
class PassageMeasures(_Measures):
    """Not an offence: a vehicle timed at a section camera's line (the central store pairs two)."""

    kind: Literal["passage"] = "passage"
    section_id: str
    track_id: int
    crossing_utc: str  # ISO 8601 with its zone
    crossing_stream_s: float
    clock_uncertainty_s: float
    timing_uncertainty_s: float
    clock_source: str
    chainage_m: float | None = None


ViolationMeasures = (
    RedLightMeasures
    | StopLineMeasures
    | LaneRestrictionMeasures
    | SolidLineMeasures
    | WrongWayMeasures
    | SpeedingMeasures
    | NoStoppingMeasures
    | NoHelmetMeasures
    | TooManyRidersMeasures
    | PassageMeasures
    | SectionSpeedMeasures
)
#: The union as pydantic reads it (by `kind`): for the manifest and the API's schemas.
ViolationMeasuresField = Annotated[ViolationMeasures, Field(discriminator="kind")]
Measures = ViolationMeasures


def kind_of(cls: type[Measures]) -> str:
    """The `kind` a measurements class writes (its field's default)."""
    return str(next(f.default for f in fields(cls) if f.name == "kind"))


#: The measurements class of each kind (ViolationType values, and section_speed).
MEASURES_BY_KIND: dict[str, type[Measures]] = {
    kind_of(c): c
    for c in (
        RedLightMeasures,
        StopLineMeasures,
        LaneRestrictionMeasures,
        SolidLineMeasures,
        WrongWayMeasures,
        SpeedingMeasures,
        NoStoppingMeasures,
        NoHelmetMeasures,
        TooManyRidersMeasures,
        PassageMeasures,
        SectionSpeedMeasures,
    )
}


def measures_json(m: Measures) -> dict[str, Scalar]:
    """Plain JSON values, `kind` included."""
    return asdict(m)


@cache
def _adapter(kind: str) -> TypeAdapter[Any]:
    return TypeAdapter(MEASURES_BY_KIND[kind])


def _validate(cls: type[Measures], data: dict[str, Any]) -> Measures:
    try:
        out: Measures = _adapter(kind_of(cls)).validate_python(data)
    except ValidationError as exc:
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]]
        raise MeasuresError(f"{kind_of(cls)} measured values: " + "; ".join(parts)) from exc
    return out


def parse_measures(data: object, kind: str | None = None) -> Measures:
    """Measurements from their JSON (`measures_json`); `kind`, when given, must match the data's."""
    if not isinstance(data, dict):
        raise MeasuresError(f"measured values: expected an object, got {type(data).__name__}")
    got = data.get("kind")
    if kind is not None and got != kind:
        raise MeasuresError(f"measured values of kind {got!r} where {kind!r} was expected")
    cls = MEASURES_BY_KIND.get(str(got))
    if cls is None:
        raise MeasuresError(f"measured values: unknown kind {got!r} (known: {sorted(MEASURES_BY_KIND)})")
    return _validate(cls, data)


def legacy_measures(kind: str, data: dict[str, Any]) -> Measures:
    """Measurements from a manifest_version 1/2 dict (keys named as the fields): other keys are
    dropped, a missing optional field is None, a missing required one is a MeasuresError."""
    cls = MEASURES_BY_KIND.get(kind)
    if cls is None:
        raise MeasuresError(f"measured values: unknown violation type {kind!r}")
    out: dict[str, Any] = {"kind": kind}
    for f in fields(cls):
        if f.name in data:
            out[f.name] = data[f.name]
        elif f.name != "kind" and "None" in str(f.type):
            out[f.name] = None
    return _validate(cls, out)


def load_measures(violation_type: str, data: object) -> ViolationMeasures:
    """A violation's measurements stored as JSON by any version: typed (with a `kind`), or a legacy
    dict (a store row ingested before manifest_version 3)."""
    if not isinstance(data, dict):
        raise MeasuresError(f"measured values: expected an object, got {type(data).__name__}")
    return parse_measures(data, violation_type) if "kind" in data else legacy_measures(violation_type, data)
