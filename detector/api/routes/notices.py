"""The notice's life (issue 18): cases, the printed notice, the scheduler's step, the payment
portal's signed callback, the public lookup of published notices, inspection flags."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from detector.api.auth import Reviewer, Viewer
from detector.api.deps import ClientAddress, Limiter, Services, actor, refuse_if_waiting
from detector.api.schemas import MAX_ID, CancelRequest, ErrorBody
from detector.store import audit
from detector.store.inspection import StoreInspectionRegistry
from detector.store.network_views import InspectionFlagView, NoticeCaseView, PublicNoticeView, TransitionView
from detector.store.payments import plate_key
from detector.store.views import AuditView

router = APIRouter()
NoticeId = Annotated[int, Path(ge=1, le=MAX_ID, description="Notice id")]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid token / signature"},
    404: {"model": ErrorBody, "description": "No such notice"},
    409: {"model": ErrorBody, "description": "The notice's state does not allow this"},
    422: {"model": ErrorBody, "description": "Malformed request"},
}
MAX_CALLBACK_BYTES = 16 * 1024
STATES = "^(opened|owner_unknown|routed|notified|acknowledged|published|flagged|closed|cancelled|expired)$"


@router.get("/v1/notices", response_model=list[NoticeCaseView], responses=ERRORS, tags=["notices"])
def notices(
    svc: Services,
    _t: Viewer,
    state: Annotated[str | None, Query(pattern=STATES)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[NoticeCaseView]:
    return svc.notices.list(state, limit)


@router.get("/v1/notices/{notice_id}", response_model=NoticeCaseView, responses=ERRORS, tags=["notices"])
def notice(svc: Services, notice_id: NoticeId, _t: Viewer) -> NoticeCaseView:
    return svc.notices.get(notice_id)


@router.get("/v1/notices/{notice_id}/html", response_class=HTMLResponse, responses=ERRORS, tags=["notices"])
def notice_html(svc: Services, notice_id: NoticeId, _t: Viewer) -> HTMLResponse:
    """The printed notice (Vietnamese, A4, pictures embedded), checked against its stored sha256."""
    return HTMLResponse(svc.notices.notice_html(notice_id))


@router.get(
    "/v1/notices/{notice_id}/audit", response_model=list[AuditView], responses=ERRORS, tags=["notices"]
)
def notice_audit(svc: Services, notice_id: NoticeId, _t: Reviewer) -> list[AuditView]:
    with svc.db.session() as s:
        return audit.entries(s, "notice", str(notice_id), 1000)


@router.post("/v1/notices/advance", response_model=list[TransitionView], responses=ERRORS, tags=["notices"])
def advance(svc: Services, t: Reviewer) -> list[TransitionView]:
    """Run every step that is due now: open, route, notify, publish and flag, expire."""
    return svc.notices.advance(actor(t))


@router.post(
    "/v1/notices/{notice_id}/acknowledge", response_model=TransitionView, responses=ERRORS, tags=["notices"]
)
def acknowledge(svc: Services, notice_id: NoticeId, t: Reviewer) -> TransitionView:
    """The owner came to the unit: the notice is not published."""
    return svc.notices.acknowledge(notice_id, actor(t))


@router.post(
    "/v1/notices/{notice_id}/cancel", response_model=TransitionView, responses=ERRORS, tags=["notices"]
)
def cancel(svc: Services, notice_id: NoticeId, body: CancelRequest, t: Reviewer) -> TransitionView:
    return svc.notices.cancel(notice_id, actor(t), body.reason)


@router.post("/v1/payments/callback", response_model=TransitionView, responses=ERRORS, tags=["notices"])
async def payment_callback(
    request: Request,
    svc: Services,
    signature: Annotated[str | None, Header(alias="X-Portal-Signature", max_length=100)] = None,
) -> TransitionView:
    """The payment portal's callback: JSON body signed with HMAC-SHA256 (`X-Portal-Signature:
    sha256=<hex>`); a bad signature is refused with 401 and recorded in the audit log."""
    body = await request.body()
    if len(body) > MAX_CALLBACK_BYTES:
        raise HTTPException(413, f"callback body over {MAX_CALLBACK_BYTES} bytes")
    return await run_in_threadpool(svc.notices.payment_callback, body, signature)


@router.get("/v1/public/notices", response_model=list[PublicNoticeView], tags=["public"])
def public_notices(
    svc: Services,
    limiter: Limiter,
    ip: ClientAddress,
    plate: Annotated[str, Query(min_length=1, max_length=40, description="Plate in any written form")],
) -> list[PublicNoticeView]:
    """Published notices of a plate (no token; rate limited per client address)."""
    refuse_if_waiting(limiter.take(f"public:{ip}"))
    return svc.notices.public_lookup(plate)


@router.get(
    "/v1/inspection/flags", response_model=list[InspectionFlagView], responses=ERRORS, tags=["notices"]
)
def inspection_flags(
    svc: Services, _t: Viewer, plate: Annotated[str, Query(min_length=1, max_length=40)]
) -> list[InspectionFlagView]:
    """Active inspection-registry flags of a plate (the stand-in's view)."""
    with svc.db.session() as s:
        return StoreInspectionRegistry.active(s, plate_key(plate))
