"""Review: a pending violation is confirmed (it becomes a fine and a notice) or rejected with a
reason; a fine can be cancelled. Every change writes an audit row in the same transaction.

Concurrency: the violation/fine row is locked (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite write
transactions are exclusive), so two reviewers cannot both decide the same violation.
"""

from __future__ import annotations

import json
import logging
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from detector.measures import load_measures
from detector.platetext import normalize_plate
from detector.store import audit
from detector.store.db import Clock, Database
from detector.store.errors import Conflict, InvalidRequest, NotFound
from detector.store.fines import VEHICLE_TYPE_VI, FineSchedule
from detector.store.models import Fine, FineStatus, ViolationRow, ViolationStatus
from detector.store.views import NoticeView, ReviewView, ViolationView

log = logging.getLogger(__name__)

Decision = Literal["confirm", "reject"]


def _locked(s: Session, model: type, row_id: int, what: str) -> object:
    row = s.scalars(select(model).where(model.id == row_id).with_for_update()).first()  # type: ignore[attr-defined]
    if row is None:
        raise NotFound(f"{what} {row_id} not found")
    return row


class ReviewService:
    def __init__(self, db: Database, schedule: FineSchedule, clock: Clock) -> None:
        self.db = db
        self.schedule = schedule
        self.clock = clock

    def review(
        self,
        violation_id: int,
        decision: Decision,
        *,
        actor: str,
        reason: str,
        plate_text: str | None = None,
    ) -> ReviewView:
        """Confirm (creating the fine) or reject a pending violation; `plate_text` corrects the OCR."""
        reason = reason.strip()
        if decision == "reject" and not reason:
            raise InvalidRequest(f"violation {violation_id}: a rejection needs a reason")
        if decision not in ("confirm", "reject"):
            raise InvalidRequest(
                f"violation {violation_id}: decision must be confirm or reject, got {decision!r}"
            )
        corrected = None
        if plate_text is not None:
            corrected = normalize_plate(plate_text)
            if not corrected:
                raise InvalidRequest(
                    f"violation {violation_id}: plate {plate_text!r} has no letters or digits"
                )
        with self.db.write() as s:
            v: ViolationRow = _locked(s, ViolationRow, violation_id, "violation")  # type: ignore[assignment]
            if v.status != ViolationStatus.PENDING.value:
                raise Conflict(f"violation {violation_id} is already {v.status} (by {v.reviewed_by})")
            now = self.clock()
            before = audit.violation_state(v)
            if corrected is not None:
                v.plate_text = plate_text.strip()  # type: ignore[union-attr]
                v.plate_normalized = corrected
            v.status = (
                ViolationStatus.CONFIRMED.value if decision == "confirm" else ViolationStatus.REJECTED.value
            )
            v.review_reason = reason or None
            v.reviewed_by = actor
            v.reviewed_at = now
            fine = self._make_fine(s, v, now) if decision == "confirm" else None
            s.flush()
            audit.record(
                s,
                at=now,
                actor=actor,
                action=decision,
                entity="violation",
                entity_id=v.id,
                before=before,
                after=audit.violation_state(v),
            )
            if fine is not None:
                audit.record(
                    s,
                    at=now,
                    actor=actor,
                    action="issue_fine",
                    entity="fine",
                    entity_id=fine.id,
                    before=None,
                    after=audit.fine_state(fine),
                )
            result = ReviewView(violation=ViolationView.of(v), fine=NoticeView.of(fine) if fine else None)
        log.info("violation %d %sed by %s", violation_id, decision, actor)
        return result

    def _make_fine(self, s: Session, v: ViolationRow, now: object) -> Fine:
        if not v.plate_normalized or not v.plate_text:
            raise InvalidRequest(
                f"violation {v.id} has no plate reading: confirm with a corrected plate_text"
            )
        decision = self.schedule.choose(
            load_measures(v.violation_type, json.loads(v.measured_json)), v.vehicle_class
        )
        fine = Fine(
            violation_id=v.id,
            notice_no=f"TB-{v.occurred_at:%Y%m%d}-{v.id:010d}",
            plate_text=v.plate_text,
            plate_normalized=v.plate_normalized,
            plate_colour=v.plate_colour,
            vehicle_type=VEHICLE_TYPE_VI.get(v.vehicle_class, v.vehicle_class),
            occurred_at=v.occurred_at,
            place=v.location,
            violation_text=decision.text_vi,
            legal_basis=decision.legal_basis,
            detecting_unit=v.detecting_unit,
            amount_min_vnd=decision.min_vnd,
            amount_max_vnd=decision.max_vnd,
            amount_due_vnd=decision.amount_due_vnd,
            points=decision.points,
            status=FineStatus.UNPAID.value,
            issued_at=now,
        )
        s.add(fine)
        s.flush()
        return fine

    def cancel_fine(self, fine_id: int, *, actor: str, reason: str) -> NoticeView:
        if not reason.strip():
            raise InvalidRequest(f"fine {fine_id}: a cancellation needs a reason")
        with self.db.write() as s:
            f: Fine = _locked(s, Fine, fine_id, "fine")  # type: ignore[assignment]
            if f.status != FineStatus.UNPAID.value:
                raise Conflict(f"fine {fine_id} is {f.status}; only unpaid fines can be cancelled")
            now = self.clock()
            before = audit.fine_state(f)
            f.status = FineStatus.CANCELLED.value
            after = audit.fine_state(f) | {"reason": reason.strip()}
            audit.record(
                s,
                at=now,
                actor=actor,
                action="cancel_fine",
                entity="fine",
                entity_id=f.id,
                before=before,
                after=after,
            )
            return NoticeView.of(f)
