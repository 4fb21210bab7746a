"""The fine schedule (Decree 168/2024, `fine_schedule.yaml`) and the choice of a row for a violation.

`FineSchedule.choose(measured, vehicle_class)` returns the matching `FineDecision` for the rule's typed
measurements (`detector.measures`; their kind is the violation type): amount range in VND, licence
points, the article/clause cited, and the amount due, which is the middle of the range as the Law on
Handling Administrative Violations (Art. 23(4)) sets by default.

A row's conditions name measurement fields: `over_kmh` bands read `excess_kmh` of speed measurements,
`flags` read boolean fields by name. Both are checked against the measurement class of the row's
violation type when the schedule is loaded, so a renamed field fails the load instead of silently
never matching (and changing which row, and fine, applies).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import Field, model_validator

from detector.base import FrozenModel
from detector.errors import ConfigError
from detector.measures import MEASURES_BY_KIND, SpeedMeasures, ViolationMeasures
from detector.store.errors import NoFineRule
from detector.types import ViolationType

log = logging.getLogger(__name__)

SCHEDULE_PATH = Path(__file__).with_name("fine_schedule.yaml")

#: Vehicle classes of the detector mapped to the decree's vehicle groups (Art. 6 cars, Art. 7 motorbikes).
VEHICLE_GROUP: dict[str, str] = {"car": "car", "bus": "car", "truck": "car", "motorcycle": "motorbike"}
#: Vehicle type as printed on a notice.
VEHICLE_TYPE_VI: dict[str, str] = {
    "car": "Xe ô tô",
    "bus": "Xe ô tô chở người (xe khách)",
    "truck": "Xe ô tô tải",
    "motorcycle": "Xe mô tô, xe gắn máy",
}


class SpeedBand(FrozenModel):
    """Excess over the speed limit, km/h; unset bounds are open."""

    gt: float | None = Field(default=None, description="Excess must be greater than this")
    gte: float | None = Field(default=None, description="Excess must be at least this")
    lt: float | None = Field(default=None, description="Excess must be less than this")
    lte: float | None = Field(default=None, description="Excess must be at most this")

    def contains(self, x: float) -> bool:
        return (
            (self.gt is None or x > self.gt)
            and (self.gte is None or x >= self.gte)
            and (self.lt is None or x < self.lt)
            and (self.lte is None or x <= self.lte)
        )


class FineRule(FrozenModel):
    id: str = Field(description="Stable row id, e.g. car.speeding.10_20")
    vehicle: str = Field(pattern="^(car|motorbike)$", description="Decree vehicle group")
    violation_type: str = Field(description="detector.types.ViolationType value")
    over_kmh: SpeedBand | None = Field(default=None, description="Speeding band (speeding rows only)")
    flags: dict[str, bool] = Field(
        default_factory=dict, description="Boolean measured values that must match"
    )
    text_vi: str = Field(description="Offence as written on the notice")
    fine_basis: str = Field(description="Article/clause/point of the fine, e.g. Art. 6(9)(b)")
    points_basis: str | None = Field(default=None, description="Article/clause/point of the points deduction")
    min_vnd: int = Field(gt=0, description="Lowest fine, VND")
    max_vnd: int = Field(gt=0, description="Highest fine, VND")
    points: int = Field(ge=0, le=12, description="Licence points deducted")

    @model_validator(mode="after")
    def _check(self) -> FineRule:
        if self.min_vnd > self.max_vnd:
            raise ValueError(f"{self.id}: min_vnd {self.min_vnd} > max_vnd {self.max_vnd}")
        if (self.points > 0) != (self.points_basis is not None):
            raise ValueError(f"{self.id}: points and points_basis must be given together")
        return self


class FineScheduleModel(FrozenModel):
    schedule_version: int = Field(description="Format version")
    source: str = Field(description="Legal source of the amounts")
    rows: tuple[FineRule, ...] = Field(description="Rows, tried in order")


@dataclass(frozen=True, slots=True)
class FineDecision:
    rule_id: str
    text_vi: str
    legal_basis: str
    min_vnd: int
    max_vnd: int
    amount_due_vnd: int
    points: int


def _check_rows(model: FineScheduleModel) -> None:
    """Every row's violation type has measurements, its `flags` are boolean fields of them and its
    `over_kmh` band is on speed measurements (ValueError naming the row otherwise)."""
    for row in model.rows:
        cls = MEASURES_BY_KIND.get(row.violation_type)
        if cls is None or row.violation_type == ViolationType.PASSAGE.value:  # a passage is no offence
            raise ValueError(f"row {row.id}: unknown violation_type {row.violation_type!r}")
        if row.over_kmh is not None and not issubclass(cls, SpeedMeasures):
            raise ValueError(f"row {row.id}: over_kmh on {row.violation_type}, which measures no speed")
        bools = {f.name for f in fields(cls) if f.type in ("bool", bool)}
        for name in row.flags:
            if name not in bools:
                raise ValueError(
                    f"row {row.id}: flag {name!r} is not a boolean field of {cls.__name__} "
                    f"(those are: {sorted(bools) or 'none'})"
                )


class FineSchedule:
    def __init__(self, model: FineScheduleModel) -> None:
        _check_rows(model)
        self.model = model

    @classmethod
    def load(cls, path: str | Path = SCHEDULE_PATH) -> FineSchedule:
        p = Path(path)
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8"))
            return cls(FineScheduleModel.model_validate(raw))
        except (OSError, yaml.YAMLError, ValueError) as exc:
            raise ConfigError(f"{p}: invalid fine schedule: {exc}") from exc

    def choose(self, measured: ViolationMeasures, vehicle_class: str) -> FineDecision:
        violation_type = measured.kind
        group = VEHICLE_GROUP.get(vehicle_class)
        if group is None:
            raise NoFineRule(
                f"fine schedule: no vehicle group for class {vehicle_class!r} "
                f"(known: {sorted(VEHICLE_GROUP)})"
            )
        excess = measured.excess_kmh if isinstance(measured, SpeedMeasures) else None
        for row in self.model.rows:
            if row.vehicle != group or row.violation_type != violation_type:
                continue
            if row.over_kmh is not None and (excess is None or not row.over_kmh.contains(excess)):
                continue
            if any(getattr(measured, k) is not v for k, v in row.flags.items()):
                continue
            basis = f"Nghị định 168/2024/NĐ-CP {row.fine_basis}"
            if row.points_basis:
                basis += f"; trừ điểm {row.points_basis}"
            return FineDecision(
                rule_id=row.id,
                text_vi=row.text_vi,
                legal_basis=basis,
                min_vnd=row.min_vnd,
                max_vnd=row.max_vnd,
                amount_due_vnd=(row.min_vnd + row.max_vnd) // 2,
                points=row.points,
            )
        detail = (
            f", speed excess {excess:.1f} km/h" if violation_type == "speeding" and excess is not None else ""
        )
        raise NoFineRule(f"fine schedule: no row for {violation_type} by {vehicle_class} ({group}){detail}")


@lru_cache(maxsize=1)
def default_schedule() -> FineSchedule:
    return FineSchedule.load()
