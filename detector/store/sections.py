"""Average-speed violations in the store: one row per (entry bundle, exit bundle) pair, idempotent,
with both cameras' signed bundles by reference and the decision (fine or review) the rule made."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from pydantic import Field
from sqlalchemy import select

from detector.base import FrozenModel
from detector.measures import measures_json
from detector.network.section import SectionViolation
from detector.store import audit
from detector.store.db import Clock, Database
from detector.store.network_models import SectionViolationRow


class SectionViolationView(FrozenModel):
    id: int = Field(description="Row id")
    section_id: str = Field(description="Section")
    decision: str = Field(description="fine (sure plate match) or review (any doubt)")
    entry_camera: str = Field(description="Entry camera")
    entry_event_id: str = Field(description="Entry camera's signed bundle (event id)")
    entry_manifest_sha256: str | None = Field(description="sha256 of its manifest")
    entry_time: datetime = Field(description="Entry crossing (entry camera's clock, UTC)")
    exit_camera: str = Field(description="Exit camera")
    exit_event_id: str = Field(description="Exit camera's signed bundle (event id)")
    exit_manifest_sha256: str | None = Field(description="sha256 of its manifest")
    exit_time: datetime = Field(description="Exit crossing (exit camera's clock, UTC)")
    plate_normalized: str | None = Field(description="Plate both readings agree on")
    vehicle_class: str = Field(description="Class at entry")
    speed_kmh: float = Field(description="Average speed over the section")
    speed_low_kmh: float = Field(description="Its lower bound (distance and clock uncertainties)")
    limit_kmh: float = Field(description="Limit")
    match_kind: str = Field(description="exact, candidates or tolerant")
    match_confidence: float = Field(description="Plate-match confidence")
    reasons: tuple[str, ...] = Field(description="Why it goes to review")


class SectionStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def save(self, found: Sequence[SectionViolation], actor: str) -> list[SectionViolationView]:
        out = []
        with self.db.write() as s:
            now = self.clock()
            for v in found:
                if v.entry.bundle is None or v.exit.bundle is None:
                    raise ValueError(
                        f"section {v.section_id}: a stored violation needs both passages' bundles"
                    )
                row = s.scalars(
                    select(SectionViolationRow).where(
                        SectionViolationRow.entry_event_id == v.entry.bundle.event_id,
                        SectionViolationRow.exit_event_id == v.exit.bundle.event_id,
                    )
                ).first()
                if row is None:
                    row = SectionViolationRow(
                        section_id=v.section_id,
                        decision=v.decision,
                        entry_camera=v.entry.camera_id,
                        entry_event_id=v.entry.bundle.event_id,
                        entry_manifest_sha256=v.entry.bundle.manifest_sha256,
                        entry_time=v.entry.time,
                        exit_camera=v.exit.camera_id,
                        exit_event_id=v.exit.bundle.event_id,
                        exit_manifest_sha256=v.exit.bundle.manifest_sha256,
                        exit_time=v.exit.time,
                        plate_normalized=v.match.key,
                        vehicle_class=v.entry.vehicle_class,
                        speed_kmh=v.speed_kmh,
                        speed_low_kmh=v.speed_low_kmh,
                        limit_kmh=v.limit_kmh,
                        match_kind=v.match.kind,
                        match_confidence=v.match.confidence,
                        reasons_json=json.dumps(list(v.reasons), ensure_ascii=False),
                        measured_json=json.dumps(measures_json(v.measured), ensure_ascii=False),
                        created_at=now,
                    )
                    s.add(row)
                    s.flush()
                    audit.record(
                        s,
                        at=now,
                        actor=actor,
                        action="section_violation",
                        entity="section",
                        entity_id=row.id,
                        before=None,
                        after={
                            "decision": v.decision,
                            "speed_kmh": round(v.speed_kmh, 2),
                            "entry": v.entry.bundle.event_id,
                            "exit": v.exit.bundle.event_id,
                        },
                    )
                out.append(_view(row))
        return out

    def list(self, decision: str | None = None, limit: int = 500) -> list[SectionViolationView]:
        with self.db.session() as s:
            q = select(SectionViolationRow).order_by(SectionViolationRow.id).limit(limit)
            if decision is not None:
                q = q.where(SectionViolationRow.decision == decision)
            return [_view(r) for r in s.scalars(q)]


def _view(r: SectionViolationRow) -> SectionViolationView:
    names = [n for n in SectionViolationView.model_fields if n != "reasons"]
    return SectionViolationView(
        **{n: getattr(r, n) for n in names}, reasons=tuple(json.loads(r.reasons_json))
    )
