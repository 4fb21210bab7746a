"""Request and response bodies of the HTTP API (responses reuse the store's views)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from detector.base import FrozenModel
from detector.store.views import ViolationView

#: Free text fields: printable, no NUL/control characters (PostgreSQL rejects NUL in text).
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
IDEMPOTENCY_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
MAX_ID = 2**63 - 1


class ErrorDetail(FrozenModel):
    code: str = Field(description="Stable error code: not_found, conflict, invalid, unauthorized, ...")
    message: str = Field(description="What went wrong, naming the object")


class ErrorBody(FrozenModel):
    error: ErrorDetail


class FeedPage(FrozenModel):
    items: tuple[ViolationView, ...] = Field(description="Violations with id > after, oldest first")
    next_cursor: int = Field(
        description="Pass as `after` to get the next page (last id, or `after` if empty)"
    )
    has_more: bool = Field(description="True when the page was full (there may be more)")


class ReviewRequest(FrozenModel):
    decision: Literal["confirm", "reject"] = Field(description="Confirm (issue the fine) or reject")
    reason: str = Field(
        default="", max_length=2000, pattern=TEXT_PATTERN, description="Why; required to reject"
    )
    plate_text: str | None = Field(
        default=None, max_length=32, pattern=TEXT_PATTERN, description="Corrected plate, if the OCR was wrong"
    )


class CancelRequest(FrozenModel):
    reason: str = Field(
        min_length=1, max_length=2000, pattern=TEXT_PATTERN, description="Why the fine is cancelled"
    )


class PayRequest(FrozenModel):
    amount_vnd: int = Field(ge=0, le=10**12, description="Amount paid; must equal the fine's amount_due_vnd")


class IngestResponse(FrozenModel):
    status: Literal["accepted", "duplicate", "rejected"]
    event_id: str | None = Field(description="Event id of the bundle, if it could be read")
    violation_id: int | None = Field(description="Violation row created (or found, for a duplicate)")
    reason: str = Field(description="Why the bundle was rejected (empty otherwise)")
    quarantine_id: int | None = Field(description="Quarantine record of a rejected bundle")


class Health(FrozenModel):
    status: Literal["ok"] = "ok"
    database: str = Field(description="sqlite or postgresql")
