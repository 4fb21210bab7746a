"""HTTP routes of the notice's life (issue 18): cases, the printed notice, the scheduler's step,
the payment portal's signed callback, the public lookup of published notices, inspection flags.

Mounted by `install(app)`; the services are `app.state.services` (built at the edge with a clock).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from detector.api.auth import require
from detector.api.ratelimit import client_ip, parse_networks
from detector.api.schemas import MAX_ID, CancelRequest, ErrorBody
from detector.store.inspection import StoreInspectionRegistry
from detector.store.network_views import InspectionFlagView, NoticeCaseView, PublicNoticeView, TransitionView
from detector.store.payments import plate_key
from detector.store.portal import SignatureRefused
from detector.store.services import StoreServices
from detector.store.tokens import Role, TokenInfo
from detector.store.views import AuditView

router = APIRouter()
NoticeId = Annotated[int, Path(ge=1, le=MAX_ID, description="Notice id")]
Viewer = Annotated[TokenInfo, Depends(require(Role.VIEWER, Role.REVIEWER))]
Reviewer = Annotated[TokenInfo, Depends(require(Role.REVIEWER))]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid token / signature"},
    404: {"model": ErrorBody, "description": "No such notice"},
    409: {"model": ErrorBody, "description": "The notice's state does not allow this"},
    422: {"model": ErrorBody, "description": "Malformed request"},
}
MAX_CALLBACK_BYTES = 16 * 1024
STATES = "^(opened|owner_unknown|routed|notified|acknowledged|published|flagged|closed|cancelled|expired)$"


def _svc(request: Request) -> StoreServices:
    services: StoreServices = request.app.state.services
    return services


def _actor(t: TokenInfo) -> str:
    return f"{t.name}#{t.id}"


@router.get("/v1/notices", response_model=list[NoticeCaseView], responses=ERRORS, tags=["notices"])
def notices(
    request: Request,
    _t: Viewer,
    state: Annotated[str | None, Query(pattern=STATES)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[NoticeCaseView]:
    return _svc(request).notices.list(state, limit)


@router.get("/v1/notices/{notice_id}", response_model=NoticeCaseView, responses=ERRORS, tags=["notices"])
def notice(request: Request, notice_id: NoticeId, _t: Viewer) -> NoticeCaseView:
    return _svc(request).notices.get(notice_id)


@router.get("/v1/notices/{notice_id}/html", response_class=HTMLResponse, responses=ERRORS, tags=["notices"])
def notice_html(request: Request, notice_id: NoticeId, _t: Viewer) -> HTMLResponse:
    """The printed notice (Vietnamese, A4, pictures embedded), checked against its stored sha256."""
    return HTMLResponse(_svc(request).notices.notice_html(notice_id))


@router.get(
    "/v1/notices/{notice_id}/audit", response_model=list[AuditView], responses=ERRORS, tags=["notices"]
)
def notice_audit(request: Request, notice_id: NoticeId, _t: Reviewer) -> list[AuditView]:
    from detector.store import audit

    with _svc(request).db.session() as s:
        return audit.entries(s, "notice", str(notice_id), 1000)


@router.post("/v1/notices/advance", response_model=list[TransitionView], responses=ERRORS, tags=["notices"])
def advance(request: Request, t: Reviewer) -> list[TransitionView]:
    """Run every step that is due now: open, route, notify, publish and flag, expire."""
    return _svc(request).notices.advance(_actor(t))


@router.post(
    "/v1/notices/{notice_id}/acknowledge", response_model=TransitionView, responses=ERRORS, tags=["notices"]
)
def acknowledge(request: Request, notice_id: NoticeId, t: Reviewer) -> TransitionView:
    """The owner came to the unit: the notice is not published."""
    return _svc(request).notices.acknowledge(notice_id, _actor(t))


@router.post(
    "/v1/notices/{notice_id}/cancel", response_model=TransitionView, responses=ERRORS, tags=["notices"]
)
def cancel(request: Request, notice_id: NoticeId, body: CancelRequest, t: Reviewer) -> TransitionView:
    return _svc(request).notices.cancel(notice_id, _actor(t), body.reason)


@router.post("/v1/payments/callback", response_model=TransitionView, responses=ERRORS, tags=["notices"])
async def payment_callback(
    request: Request,
    signature: Annotated[str | None, Header(alias="X-Portal-Signature", max_length=100)] = None,
) -> TransitionView:
    """The payment portal's callback: JSON body signed with HMAC-SHA256 (`X-Portal-Signature:
    sha256=<hex>`); a bad signature is refused with 401 and recorded in the audit log."""
    from fastapi.concurrency import run_in_threadpool

    body = await request.body()
    if len(body) > MAX_CALLBACK_BYTES:
        raise HTTPException(413, f"callback body over {MAX_CALLBACK_BYTES} bytes")
    return await run_in_threadpool(_svc(request).notices.payment_callback, body, signature)


@router.get("/v1/public/notices", response_model=list[PublicNoticeView], tags=["public"])
def public_notices(
    request: Request,
    plate: Annotated[str, Query(min_length=1, max_length=40, description="Plate in any written form")],
) -> list[PublicNoticeView]:
    """Published notices of a plate (no token; rate limited per client address)."""
    proxies = parse_networks(_svc(request).config.trusted_proxies)
    ip = client_ip(
        request.client.host if request.client else None, request.headers.get("x-forwarded-for"), proxies
    )
    wait = request.app.state.lookup_limiter.take(f"public:{ip}")
    if wait > 0:
        raise HTTPException(
            429,
            f"lookup rate limit reached; retry in {wait:.1f} s",
            headers={"Retry-After": str(max(1, int(wait + 0.999)))},
        )
    return _svc(request).notices.public_lookup(plate)


@router.get(
    "/v1/inspection/flags", response_model=list[InspectionFlagView], responses=ERRORS, tags=["notices"]
)
def inspection_flags(
    request: Request, _t: Viewer, plate: Annotated[str, Query(min_length=1, max_length=40)]
) -> list[InspectionFlagView]:
    """Active inspection-registry flags of a plate (the stand-in's view)."""
    with _svc(request).db.session() as s:
        return StoreInspectionRegistry.active(s, plate_key(plate))


def install(app: FastAPI) -> None:
    """Mount the network routes (notices, hotlists) and map a refused callback signature to 401."""
    from detector.api.hotlists import router as hotlist_router

    app.include_router(router)
    app.include_router(hotlist_router)

    @app.exception_handler(SignatureRefused)
    async def refused(_r: Request, exc: SignatureRefused) -> JSONResponse:
        return JSONResponse({"error": {"code": "bad_signature", "message": str(exc)}}, status_code=401)
