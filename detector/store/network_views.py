"""Views of the network side (notices, inspection flags, hotlist alerts, statistics): frozen
pydantic models built from rows so no ORM object leaves a session."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from detector.base import FrozenModel
from detector.store.network_models import InspectionFlag, NoticeRow


class NoticeCaseView(FrozenModel):
    id: int = Field(description="Notice (case) id")
    fine_id: int = Field(description="The fine this notice is for")
    state: str = Field(
        description="opened, owner_unknown, routed, notified, acknowledged, published, "
        "flagged, closed, cancelled, expired"
    )
    decision_no: str | None = Field(description="Number printed on the notice")
    payment_ref: str = Field(description="Reference the payment portal pays against")
    plate_normalized: str = Field(description="Lookup key of the plate")
    owner_name: str | None = Field(description="Owner from the vehicle registry")
    owner_address: str | None = Field(description="Owner's registered address")
    owner_district: str | None = Field(description="District of the address")
    owner_province: str | None = Field(description="Province of the address")
    unit_code: str | None = Field(description="Traffic-police unit handling the case")
    unit_name: str | None = Field(description="Its name")
    detected_at: datetime = Field(description="When the camera recorded the violation (UTC)")
    notify_deadline: datetime = Field(description="Latest time to send the notice")
    expires_at: datetime = Field(description="End of the limitation (Decree 168/2024 Art. 4)")
    notified_at: datetime | None = Field(description="When the notice was sent")
    notice_sha256: str | None = Field(description="sha256 of the printed notice")
    publish_due_at: datetime | None = Field(description="Published if the owner has not come by then")
    published_at: datetime | None = Field(description="When it was published on the public lookup")
    acknowledged_at: datetime | None = Field(description="When the owner came to the unit")
    closed_at: datetime | None = Field(description="When it was paid and closed")

    @classmethod
    def of(cls, n: NoticeRow) -> NoticeCaseView:
        return cls(**{name: getattr(n, name) for name in cls.model_fields})


class PublicNoticeView(FrozenModel):
    """What the public lookup shows of a published notice (no owner name or address)."""

    decision_no: str | None = Field(description="Notice number")
    plate_normalized: str = Field(description="Plate")
    detected_at: datetime = Field(description="When (UTC)")
    place: str = Field(description="Where")
    violation_text: str = Field(description="Offence")
    amount_due_vnd: int = Field(description="Amount to pay")
    unit_name: str | None = Field(description="Unit handling the case")
    payment_ref: str = Field(description="Reference to pay with on the portal")
    published_at: datetime | None = Field(description="Published since")


class InspectionFlagView(FrozenModel):
    plate_normalized: str = Field(description="Flagged plate")
    notice_id: int = Field(description="The unpaid notice behind the flag")
    reason: str = Field(description="Why")
    flagged_at: datetime = Field(description="Since")
    cleared_at: datetime | None = Field(description="Cleared when the notice was paid or cancelled")

    @classmethod
    def of(cls, f: InspectionFlag) -> InspectionFlagView:
        return cls(**{name: getattr(f, name) for name in cls.model_fields})


class TransitionView(FrozenModel):
    notice_id: int = Field(description="Notice")
    event: str = Field(description="What happened")
    from_state: str = Field(description="Before")
    to_state: str = Field(description="After")
