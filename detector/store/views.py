"""What the store hands out: frozen pydantic views (the API's response models, the CLI's JSON,
the MQTT payload). Built from rows here so no ORM object leaves a session.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Literal, TypeVar

from pydantic import Field

from detector.base import FrozenModel
from detector.measures import ViolationMeasuresField, load_measures
from detector.store.models import AuditEntry, EvidenceFile, Fine, Payment, QuarantineEntry, ViolationRow

Scalar = float | int | str | bool | None
_V = TypeVar("_V", bound=FrozenModel)
#: Vietnam has no daylight saving: UTC+7 all year.
VN_TIME = timezone(timedelta(hours=7), "ICT")


def _from_row(cls: type[_V], row: object, **computed: object) -> _V:
    """A view from an ORM row: each field read from the row's attribute of the same name, except
    the `computed` ones (renamed, decoded or derived)."""
    values = {name: getattr(row, name) for name in cls.model_fields if name not in computed}
    return cls(**values, **computed)


class FileView(FrozenModel):
    name: str = Field(description="File name inside the bundle")
    sha256: str = Field(description="sha256 of the file, as signed in the manifest")
    size: int = Field(description="Bytes")


class PlateCandidateView(FrozenModel):
    text: str = Field(description="Plate text")
    confidence: float = Field(description="OCR confidence")


class ViolationView(FrozenModel):
    id: int = Field(description="Row id; also the feed cursor (monotonically increasing)")
    event_id: str = Field(description="Evidence event id (uuid5 of the event key)")
    camera_id: str = Field(description="Camera that recorded it")
    sequence: int = Field(description="Position in the camera's hash chain")
    manifest_sha256: str = Field(description="sha256 of the signed manifest.json")
    violation_type: str = Field(description="red_light, speeding, ...")
    vehicle_class: str = Field(description="car, motorcycle, bus, truck")
    plate_text: str | None = Field(description="Plate as displayed")
    plate_normalized: str | None = Field(description="Lookup key of the plate")
    plate_colour: str | None = Field(description="Plate colour if read")
    plate_confidence: float | None = Field(description="OCR confidence of the plate")
    occurred_at: datetime = Field(description="UTC time of the offence")
    location: str = Field(description="Place")
    detecting_unit: str = Field(description="Unit operating the camera")
    measured: ViolationMeasuresField = Field(
        description="The rule's typed measurements, by `kind` (the violation type)"
    )
    needs_review: bool = Field(
        description="The evidence module asks a person to check it (e.g. an unsure plate)"
    )
    review_reasons: tuple[str, ...] = Field(default=(), description="Why review is needed")
    plate_candidates: tuple[PlateCandidateView, ...] = Field(
        default=(), description="OCR alternatives, best first"
    )
    status: Literal["pending", "confirmed", "rejected"] = Field(description="Review state")
    review_reason: str | None = Field(description="Reviewer's reason")
    reviewed_by: str | None = Field(description="Reviewer")
    reviewed_at: datetime | None = Field(description="When reviewed")
    ingested_at: datetime = Field(description="When the store accepted the bundle")
    files: tuple[FileView, ...] = Field(default=(), description="Evidence files (served by the API)")

    @classmethod
    def of(cls, row: ViolationRow, files: list[EvidenceFile] | None = None) -> ViolationView:
        hints = json.loads(row.review_hints_json or "{}")
        return _from_row(
            cls,
            row,
            measured=load_measures(row.violation_type, json.loads(row.measured_json)),
            review_reasons=tuple(hints.get("reasons", ())),
            plate_candidates=tuple(PlateCandidateView(**c) for c in hints.get("plate_candidates", ())),
            files=tuple(FileView(name=f.name, sha256=f.sha256, size=f.size) for f in files or ()),
        )


class NoticeView(FrozenModel):
    """A fine with the fields of a Vietnamese violation notice."""

    fine_id: int = Field(description="Fine id (use it to pay)")
    violation_id: int = Field(description="Violation the fine is for")
    notice_no: str = Field(description="Notice number")
    vehicle_type: str = Field(description="Loại phương tiện")
    plate_text: str = Field(description="Biển kiểm soát")
    plate_normalized: str = Field(description="Lookup key of the plate")
    plate_colour: str | None = Field(description="Màu biển")
    occurred_at: datetime = Field(description="Thời gian vi phạm (UTC)")
    occurred_at_local: str = Field(description="Thời gian vi phạm, Vietnam time (UTC+7), as printed")
    place: str = Field(description="Địa điểm vi phạm")
    violation_text: str = Field(description="Hành vi vi phạm")
    legal_basis: str = Field(description="Article/clause of Decree 168/2024 cited")
    detecting_unit: str = Field(description="Đơn vị phát hiện")
    amount_min_vnd: int = Field(description="Lowest fine of the range, VND")
    amount_max_vnd: int = Field(description="Highest fine of the range, VND")
    amount_due_vnd: int = Field(description="Amount to pay (middle of the range), VND")
    points: int = Field(description="Licence points deducted")
    status: Literal["unpaid", "paid", "cancelled"] = Field(description="Payment state")
    issued_at: datetime = Field(description="When the notice was issued")

    @classmethod
    def of(cls, f: Fine) -> NoticeView:
        local = f.occurred_at.astimezone(VN_TIME).strftime("%H:%M:%S ngày %d/%m/%Y")
        return _from_row(cls, f, fine_id=f.id, occurred_at_local=local)


class ReceiptView(FrozenModel):
    receipt_no: str = Field(description="Receipt number")
    fine_id: int = Field(description="Fine paid")
    notice_no: str = Field(description="Notice paid")
    amount_vnd: int = Field(description="Amount paid, VND")
    idempotency_key: str = Field(description="Key of the payment request")
    paid_at: datetime = Field(description="When it was paid")
    replayed: bool = Field(description="True when this key had already paid: nothing new was charged")

    @classmethod
    def of(cls, p: Payment, notice_no: str, replayed: bool) -> ReceiptView:
        return _from_row(cls, p, notice_no=notice_no, replayed=replayed)


class AuditView(FrozenModel):
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Scalar] | None = Field(description="State before the change")
    after: dict[str, Scalar] | None = Field(description="State after the change")

    @classmethod
    def of(cls, a: AuditEntry) -> AuditView:
        return _from_row(
            cls,
            a,
            before=json.loads(a.before_json) if a.before_json else None,
            after=json.loads(a.after_json) if a.after_json else None,
        )


class QuarantineView(FrozenModel):
    id: int
    at: datetime = Field(description="When the bundle was rejected")
    source: str = Field(description="Where it came from (path, or api:<token>@<ip>)")
    event_id: str | None = Field(description="Event id, if the manifest could be read")
    camera_id: str | None = Field(description="Camera, if the manifest could be read")
    reason: str = Field(description="Why it was rejected")
    path: str = Field(description="Where the rejected files are kept")

    @classmethod
    def of(cls, q: QuarantineEntry) -> QuarantineView:
        return _from_row(cls, q)


class ReviewView(FrozenModel):
    violation: ViolationView
    fine: NoticeView | None = Field(description="The fine created by a confirmation")
