"""Append-only audit log: every change records who, when, what, and the state before/after as JSON."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from detector.store.models import AuditEntry, Fine, ViolationRow
from detector.store.views import AuditView


def _json(state: dict[str, Any] | None) -> str | None:
    return None if state is None else json.dumps(state, sort_keys=True, ensure_ascii=False, default=str)


def record(
    s: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Add one audit row to the caller's transaction (so it commits or rolls back with the change)."""
    s.add(
        AuditEntry(
            at=at,
            actor=actor,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            before_json=_json(before),
            after_json=_json(after),
        )
    )


def violation_state(v: ViolationRow) -> dict[str, Any]:
    return {
        "status": v.status,
        "plate_text": v.plate_text,
        "plate_normalized": v.plate_normalized,
        "review_reason": v.review_reason,
        "reviewed_by": v.reviewed_by,
        "reviewed_at": v.reviewed_at.isoformat() if v.reviewed_at else None,
    }


def fine_state(f: Fine) -> dict[str, Any]:
    return {
        "status": f.status,
        "notice_no": f.notice_no,
        "plate_normalized": f.plate_normalized,
        "amount_due_vnd": f.amount_due_vnd,
        "points": f.points,
    }


def entries(
    s: Session, entity: str | None = None, entity_id: str | None = None, limit: int = 200
) -> list[AuditView]:
    q = select(AuditEntry).order_by(AuditEntry.id)
    if entity is not None:
        q = q.where(AuditEntry.entity == entity)
    if entity_id is not None:
        q = q.where(AuditEntry.entity_id == entity_id)
    return [AuditView.of(a) for a in s.scalars(q.limit(limit))]
