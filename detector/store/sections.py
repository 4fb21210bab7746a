"""Average-speed violations in the store: one row per (entry bundle, exit bundle) pair, idempotent,
with both cameras' signed bundles by reference and the decision (fine or review) the rule made.

When both passages are signed bundles this store has ingested (`passages` table), the section
violation also becomes a stored violation (`violations`, type `section_speed`, pending review like
every other; `measured` holds exactly the section's measurements, both bundles and times are in its
review hints under `section`): a reviewer's confirmation issues the fine from the schedule (Decree 168/2024's speed rows,
the excess taken above the speed's lower bound). A `review` decision (a doubtful plate match, classes
that disagree) is flagged `needs_review` with its reasons; nothing is ever fined without a reviewer.
Its evidence is the exit camera's bundle (its files are served as the violation's); the entry
bundle is named by event id and manifest hash, and the notice prints both."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from detector.base import FrozenModel
from detector.evidence.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    ManifestError,
    parse_manifest,
    sha256_hex,
)
from detector.measures import measures_json
from detector.network.plate_match import Reading, fold
from detector.network.section import BundleRef, Passage, SectionViolation
from detector.store import audit
from detector.store.db import Clock, Database
from detector.store.models import EvidenceFile, ViolationRow, ViolationStatus
from detector.store.network_models import PassageRow, SectionViolationRow
from detector.store.outbox import queue_violation_created

#: The stored violation's type: the fine schedule's `section_speed` rows (Decree 168/2024's speed rows).
SECTION_SPEED = "section_speed"
#: Namespace of a section violation's event id: uuid5 of "<entry event id>:<exit event id>".
SECTION_NAMESPACE = uuid.UUID("0b7e6c1e-3f0e-5a52-8d0c-2f7c1a9e6d33")


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
    violation_id: int | None = Field(
        default=None,
        description="The stored violation (pending review) it became, when both passages are stored",
    )


def passage_of(r: PassageRow) -> Passage:
    """A stored passage as the section rule reads it."""
    return Passage(
        camera_id=r.camera_id,
        track_id=r.track_id,
        time=r.crossed_at,
        vehicle_class=r.vehicle_class,
        reading=Reading.of((str(t), float(c)) for t, c in json.loads(r.candidates_json)),
        bundle=BundleRef(r.camera_id, r.event_id, r.manifest_sha256),
        clock_uncertainty_s=r.clock_uncertainty_s,
        timing_uncertainty_s=r.timing_uncertainty_s,
    )


class SectionStore:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        evidence_dir: str | Path | None = None,
        *,
        detecting_unit: str = "",
        topic_prefix: str = "detector/violations",
    ) -> None:
        self.db = db
        self.clock = clock
        self.evidence_dir = Path(evidence_dir) if evidence_dir is not None else None
        self.detecting_unit = detecting_unit
        self.topic_prefix = topic_prefix

    def passages(
        self, camera_ids: Iterable[str], since: datetime | None = None, until: datetime | None = None
    ) -> list[Passage]:
        """Stored passages of these cameras (crossing time in [since, until)), oldest first."""
        with self.db.session() as s:
            q = (
                select(PassageRow)
                .where(PassageRow.camera_id.in_(list(camera_ids)))
                .order_by(PassageRow.crossed_at, PassageRow.id)
            )
            if since is not None:
                q = q.where(PassageRow.crossed_at >= since)
            if until is not None:
                q = q.where(PassageRow.crossed_at < until)
            return [passage_of(r) for r in s.scalars(q)]

    def save(
        self, found: Sequence[SectionViolation], actor: str, names: dict[str, str] | None = None
    ) -> list[SectionViolationView]:
        """Store each violation once (`names`: section id -> the road as printed on a notice)."""
        names = names or {}
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
                    row.violation_id = _make_violation(self, s, v, now, names.get(v.section_id, ""))
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
                            "violation_id": row.violation_id,
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


def _plate_text(rows: Sequence[PassageRow], key: str | None) -> str | None:
    """The display form of the agreed plate: a passage's own reading of it, else the key itself."""
    for r in rows:
        if r.plate_text and key and fold(r.plate_text) == key:
            return r.plate_text
    return key


def _make_violation(
    store: SectionStore, s: Session, v: SectionViolation, now: datetime, road: str
) -> int | None:
    assert v.entry.bundle is not None and v.exit.bundle is not None
    rows = {
        r.event_id: r
        for r in s.scalars(
            select(PassageRow).where(
                PassageRow.event_id.in_([v.entry.bundle.event_id, v.exit.bundle.event_id])
            )
        )
    }
    entry, exit_ = rows.get(v.entry.bundle.event_id), rows.get(v.exit.bundle.event_id)
    if entry is None or exit_ is None:
        return None  # passages given by reference only (a passages file): the section row alone
    event_id = "section-" + str(uuid.uuid5(SECTION_NAMESPACE, f"{entry.event_id}:{exit_.event_id}"))
    known = s.scalars(select(ViolationRow.id).where(ViolationRow.event_id == event_id)).first()
    if known is not None:
        return known
    measured = v.measured  # exactly the section's measurements (the fine schedule reads speed and limit)
    where = road or f"{entry.location} -> {exit_.location}"
    row = ViolationRow(
        event_id=event_id,
        camera_id=exit_.camera_id,
        sequence=exit_.sequence,
        manifest_sha256=exit_.manifest_sha256,
        violation_type=SECTION_SPEED,
        vehicle_class=v.entry.vehicle_class,
        plate_text=_plate_text([exit_, entry], v.match.key),
        plate_normalized=v.match.key,
        plate_colour=None,
        plate_confidence=v.match.confidence,
        occurred_at=v.exit.time,
        location=where,
        detecting_unit=store.detecting_unit,
        measured_json=json.dumps(measures_json(measured), sort_keys=True, ensure_ascii=False),
        needs_review=v.decision == "review",
        review_hints_json=json.dumps(_review_hints(v, entry, exit_), ensure_ascii=False),
        bundle_dir=exit_.bundle_dir,
        status=ViolationStatus.PENDING.value,
        ingested_at=now,
    )
    s.add(row)
    s.flush()
    files, unit = _bundle_files(store.evidence_dir, exit_.bundle_dir)
    row.detecting_unit = store.detecting_unit or unit
    for name, sha, size in files:
        s.add(EvidenceFile(violation_id=row.id, name=name, sha256=sha, size=size))
    queue_violation_created(s, row, measured, store.topic_prefix, now)
    return row.id


def _review_hints(v: SectionViolation, entry: PassageRow, exit_: PassageRow) -> dict[str, object]:
    """Why the section violation is reviewed and what the notice and the reviewer need beyond its
    measurements: both cameras' plate candidates, both signed bundles, both times."""
    section = {
        "section_id": v.section_id,
        "entry_event_id": entry.event_id,
        "entry_manifest_sha256": entry.manifest_sha256,
        "entry_bundle_dir": entry.bundle_dir,
        "entry_time": v.entry.time.isoformat(),
        "entry_location": entry.location,
        "exit_event_id": exit_.event_id,
        "exit_manifest_sha256": exit_.manifest_sha256,
        "exit_time": v.exit.time.isoformat(),
        "exit_location": exit_.location,
    }
    return {
        "reasons": list(v.reasons) + [f"plate match {v.match.kind}: {v.match.detail}"],
        "plate_candidates": [{"text": t, "confidence": c} for t, c in v.exit.reading.candidates],
        "entry_plate_candidates": [{"text": t, "confidence": c} for t, c in v.entry.reading.candidates],
        "section": section,
    }


def _bundle_files(evidence_dir: Path | None, bundle_dir: str) -> tuple[list[tuple[str, str, int]], str]:
    """The exit bundle's files as its signed manifest lists them (verified when it was ingested), and
    the unit operating its camera."""
    if evidence_dir is None:
        return [], ""
    folder = evidence_dir / bundle_dir
    try:
        m = parse_manifest((folder / MANIFEST_NAME).read_bytes())
        signed = [(n, (folder / n).read_bytes()) for n in (MANIFEST_NAME, SIGNATURE_NAME)]
    except (OSError, ManifestError):
        return [], ""
    files = [(f.name, f.sha256, f.size) for f in m.files] + [(n, sha256_hex(b), len(b)) for n, b in signed]
    return files, m.camera.detecting_unit
