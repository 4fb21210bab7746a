"""Review: confirm or reject a violation, the queue of pending ones, the audit log, the quarantine
of rejected bundles, and cancelling a fine (reviewers only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from detector.api.auth import Reviewer
from detector.api.deps import (
    CONFLICT,
    CONSOLE_ERRORS,
    ERRORS,
    NOT_FOUND,
    FineId,
    Services,
    ViolationId,
    actor,
)
from detector.api.routes.feed import page_of
from detector.api.schemas import MAX_ID, CancelRequest, FeedPage, ReviewRequest
from detector.store import audit
from detector.store.views import AuditView, NoticeView, QuarantineView, ReviewView

router = APIRouter()


@router.post(
    "/v1/violations/{violation_id}/review",
    response_model=ReviewView,
    responses={**ERRORS, **NOT_FOUND, **CONFLICT},
    tags=["review"],
)
def review(violation_id: ViolationId, body: ReviewRequest, svc: Services, t: Reviewer) -> ReviewView:
    return svc.review.review(
        violation_id, body.decision, actor=actor(t), reason=body.reason, plate_text=body.plate_text
    )


@router.get("/v1/audit", response_model=list[AuditView], responses=ERRORS, tags=["review"])
def audit_log(
    svc: Services,
    _t: Reviewer,
    entity: Annotated[str | None, Query(pattern="^(violation|fine|bundle)$")] = None,
    entity_id: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_.:-]*$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AuditView]:
    with svc.db.session() as s:
        return audit.entries(s, entity, entity_id, limit)


@router.get("/v1/quarantine", response_model=list[QuarantineView], responses=ERRORS, tags=["review"])
def quarantine(
    svc: Services,
    _t: Reviewer,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="Cursor: last id already seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[QuarantineView]:
    return svc.feed.quarantined(after, limit)


@router.post(
    "/v1/fines/{fine_id}/cancel",
    response_model=NoticeView,
    responses={**ERRORS, **NOT_FOUND, **CONFLICT},
    tags=["review"],
)
def cancel_fine(fine_id: FineId, body: CancelRequest, svc: Services, t: Reviewer) -> NoticeView:
    return svc.review.cancel_fine(fine_id, actor=actor(t), reason=body.reason)


@router.get("/v1/review/queue", response_model=FeedPage, responses=CONSOLE_ERRORS, tags=["console"])
def review_queue(
    svc: Services,
    _t: Reviewer,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="Cursor: last id already seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> FeedPage:
    """Pending violations, oldest first: what reviewers decide (reviewers only)."""
    return page_of(svc.feed.page(after, limit, "pending"), after, limit)
