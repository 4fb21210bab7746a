"""Stand-in for the inspection registry (đăng kiểm): the store keeps the flags it would be sent.

`InspectionRegistry` is the interface; `StoreInspectionRegistry` writes flags in the caller's
transaction, so a flag is raised or cleared together with the notice's state change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from detector.platetext import o_zero_spellings
from detector.store.network_models import InspectionFlag
from detector.store.network_views import InspectionFlagView


class InspectionRegistry(Protocol):
    def flag(self, s: Session, plate_normalized: str, notice_id: int, reason: str, now: datetime) -> None: ...

    def clear(self, s: Session, notice_id: int, now: datetime) -> bool: ...


class StoreInspectionRegistry:
    """Flags kept in the store's `inspection_flags` table."""

    def flag(self, s: Session, plate_normalized: str, notice_id: int, reason: str, now: datetime) -> None:
        s.add(
            InspectionFlag(
                plate_normalized=plate_normalized, notice_id=notice_id, reason=reason, flagged_at=now
            )
        )

    def clear(self, s: Session, notice_id: int, now: datetime) -> bool:
        f = s.scalars(select(InspectionFlag).where(InspectionFlag.notice_id == notice_id)).first()
        if f is None or f.cleared_at is not None:
            return False
        f.cleared_at = now
        return True

    @staticmethod
    def active(s: Session, plate_normalized: str) -> list[InspectionFlagView]:
        """Uncleared flags of a plate (O and 0 taken for each other)."""
        q = select(InspectionFlag).where(
            InspectionFlag.plate_normalized.in_(o_zero_spellings(plate_normalized)),
            InspectionFlag.cleared_at.is_(None),
        )
        return [InspectionFlagView.of(f) for f in s.scalars(q.order_by(InspectionFlag.id))]
