"""The HTTP API: evidence feed (cursor pages and server-sent events), evidence files, review,
fines lookup (rate limited) and payment, bundle ingest. OpenAPI at /openapi.json, docs at /docs.

`create_app(services)` takes the store's services (built at the edge with a clock) and an optional
monotonic clock for the rate limiter, so tests control both kinds of time.
"""

from __future__ import annotations

import logging
import mimetypes
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from detector import __version__
from detector.api.auth import require
from detector.api.console import install_console
from detector.api.feed import sse_events
from detector.api.metrics import install_metrics
from detector.api.notices import install as install_network
from detector.api.ratelimit import Charge, TokenBucketLimiter, client_ip, parse_networks
from detector.api.ratelimit_db import BucketLimiter
from detector.api.schemas import (
    IDEMPOTENCY_PATTERN,
    MAX_ID,
    CancelRequest,
    ErrorBody,
    FeedPage,
    Health,
    IngestResponse,
    PayRequest,
    ReviewRequest,
)
from detector.store.errors import Conflict, InvalidRequest, NotFound, StoreError
from detector.store.services import StoreServices
from detector.store.tokens import Role, TokenInfo
from detector.store.views import AuditView, NoticeView, QuarantineView, ReceiptView, ReviewView, ViolationView

log = logging.getLogger(__name__)

SPOOL_BYTES = 8 * 1024 * 1024
TAR_TYPES = ("application/x-tar", "application/gzip", "application/x-gzip", "application/octet-stream")
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing, invalid or expired token"},
    403: {"model": ErrorBody, "description": "The token's role may not do this"},
    422: {"model": ErrorBody, "description": "Malformed or unacceptable request"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such object"}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "Clashes with current state"}
}

ViolationId = Annotated[int, Path(ge=1, le=MAX_ID, description="Violation id")]
FineId = Annotated[int, Path(ge=1, le=MAX_ID, description="Fine id")]
Viewer = Annotated[TokenInfo, Depends(require(Role.VIEWER, Role.REVIEWER))]
Looker = Annotated[TokenInfo, Depends(require(Role.VIEWER, Role.REVIEWER, Role.PAYMENTS))]
Reviewer = Annotated[TokenInfo, Depends(require(Role.REVIEWER))]
Payer = Annotated[TokenInfo, Depends(require(Role.PAYMENTS))]
Ingester = Annotated[TokenInfo, Depends(require(Role.INGEST))]


def _error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _actor(t: TokenInfo) -> str:
    return f"{t.name}#{t.id}"


def _install_error_handlers(app: FastAPI) -> None:
    codes = {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        413: "too_large",
        415: "unsupported_media_type",
        429: "rate_limited",
    }

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_r: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, codes.get(exc.status_code, "error"), str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_r: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors()[:5]:
            loc = ".".join(str(x) for x in e.get("loc", ()))
            parts.append(f"{loc}: {e.get('msg')}")
        return _error(422, "invalid", "; ".join(parts) or "invalid request")

    @app.exception_handler(NotFound)
    async def not_found(_r: Request, exc: NotFound) -> JSONResponse:
        return _error(404, "not_found", str(exc))

    @app.exception_handler(Conflict)
    async def conflict(_r: Request, exc: Conflict) -> JSONResponse:
        return _error(409, "conflict", str(exc))

    @app.exception_handler(InvalidRequest)
    async def invalid(_r: Request, exc: InvalidRequest) -> JSONResponse:
        return _error(422, "invalid", str(exc))

    @app.exception_handler(DataError)
    async def data_error(_r: Request, exc: DataError) -> JSONResponse:
        return _error(422, "invalid", f"value cannot be stored: {exc.orig}")

    @app.exception_handler(StoreError)
    async def store_error(_r: Request, exc: StoreError) -> JSONResponse:
        log.error("store error: %s", exc)
        return _error(500, "store_error", str(exc))


def create_app(
    services: StoreServices,
    *,
    monotonic: Callable[[], float] = time.monotonic,
    limiter: BucketLimiter | None = None,
) -> FastAPI:
    """The API over `services`. `limiter` defaults to in-process buckets; several worker processes
    share one budget with `detector.api.ratelimit_db.DbBucketLimiter` (`detector.api.workers`)."""
    cfg = services.config
    app = FastAPI(
        title="detector: violation store",
        version=__version__,
        description="Evidence feed, review, fines lookup and payment of the traffic-camera violation engine. "
        "Authenticate with `Authorization: Bearer <token>` (tokens from `detector tokens create`).",
    )
    app.state.services = services
    rl = cfg.lookup_rate_limit
    limiter = limiter or TokenBucketLimiter(rl.capacity, rl.refill_per_s, monotonic)
    app.state.lookup_limiter = limiter
    proxies = parse_networks(cfg.trusted_proxies)
    ip_capacity, ip_refill = rl.ip_capacity or 4 * rl.capacity, rl.ip_refill_per_s or 4 * rl.refill_per_s

    def ip_of(request: Request) -> str:
        peer = request.client.host if request.client else None
        return client_ip(peer, request.headers.get("x-forwarded-for"), proxies)

    _install_error_handlers(app)
    install_network(app)

    @app.get("/v1/health", response_model=Health, tags=["meta"])
    def health() -> Health:
        return Health(database=services.db.dialect)

    # ------------------------------------------------------------------ feed
    @app.get("/v1/violations", response_model=FeedPage, responses=ERRORS, tags=["feed"])
    def feed_page(
        _t: Viewer,
        after: Annotated[int, Query(ge=0, le=MAX_ID, description="Cursor: last id already seen")] = 0,
        limit: Annotated[int, Query(ge=1, le=1000, description="Page size (capped by feed_page_max)")] = 100,
        status: Annotated[str | None, Query(pattern="^(pending|confirmed|rejected)$")] = None,
        camera_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = None,
    ) -> FeedPage:
        limit = min(limit, cfg.feed_page_max)
        items = services.feed.page(after, limit, status, camera_id)
        return FeedPage(
            items=tuple(items), next_cursor=items[-1].id if items else after, has_more=len(items) == limit
        )

    @app.get(
        "/v1/violations/stream",
        tags=["feed"],
        responses={
            **ERRORS,
            200: {
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
                "description": "Server-sent events: `id` is the violation id",
            },
        },
        response_class=StreamingResponse,
    )
    async def feed_stream(
        request: Request,
        _t: Viewer,
        after: Annotated[int, Query(ge=0, le=MAX_ID, description="Start after this id")] = 0,
        follow: Annotated[bool, Query(description="Keep the stream open for new violations")] = True,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
    ) -> StreamingResponse:
        start = after
        if last_event_id:
            if not last_event_id.isdigit() or int(last_event_id) > MAX_ID:
                raise HTTPException(422, f"Last-Event-ID {last_event_id[:20]!r} is not a violation id")
            start = max(start, int(last_event_id))
        gen = sse_events(request, services.feed, start, follow=follow, poll_s=cfg.sse_poll_s)
        return StreamingResponse(gen, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.get(
        "/v1/violations/{violation_id}",
        response_model=ViolationView,
        responses={**ERRORS, **NOT_FOUND},
        tags=["feed"],
    )
    def violation(violation_id: ViolationId, _t: Viewer) -> ViolationView:
        return services.feed.get(violation_id)

    @app.get(
        "/v1/violations/{violation_id}/files/{name}",
        tags=["feed"],
        responses={
            **ERRORS,
            **NOT_FOUND,
            200: {"content": {"application/octet-stream": {}}, "description": "The evidence file"},
        },
        response_class=FileResponse,
    )
    def evidence_file(
        violation_id: ViolationId,
        name: Annotated[str, Path(max_length=128, description="File name listed in the bundle")],
        _t: Viewer,
    ) -> FileResponse:
        path, sha = services.feed.evidence_file(violation_id, name)
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(
            path,
            media_type=media,
            headers={
                "ETag": f'"{sha}"',
                "Cache-Control": "private, max-age=3600",
                "X-Content-Type-Options": "nosniff",
            },
        )

    # ------------------------------------------------------------------ review
    @app.post(
        "/v1/violations/{violation_id}/review",
        response_model=ReviewView,
        responses={**ERRORS, **NOT_FOUND, **CONFLICT},
        tags=["review"],
    )
    def review(violation_id: ViolationId, body: ReviewRequest, t: Reviewer) -> ReviewView:
        return services.review.review(
            violation_id, body.decision, actor=_actor(t), reason=body.reason, plate_text=body.plate_text
        )

    @app.get("/v1/audit", response_model=list[AuditView], responses=ERRORS, tags=["review"])
    def audit_log(
        _t: Reviewer,
        entity: Annotated[str | None, Query(pattern="^(violation|fine|bundle)$")] = None,
        entity_id: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_.:-]*$")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[AuditView]:
        from detector.store import audit

        with services.db.session() as s:
            return audit.entries(s, entity, entity_id, limit)

    @app.get("/v1/quarantine", response_model=list[QuarantineView], responses=ERRORS, tags=["review"])
    def quarantine(
        _t: Reviewer,
        after: Annotated[int, Query(ge=0, le=MAX_ID, description="Cursor: last id already seen")] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[QuarantineView]:
        return services.feed.quarantined(after, limit)

    @app.post(
        "/v1/fines/{fine_id}/cancel",
        response_model=NoticeView,
        responses={**ERRORS, **NOT_FOUND, **CONFLICT},
        tags=["review"],
    )
    def cancel_fine(fine_id: FineId, body: CancelRequest, t: Reviewer) -> NoticeView:
        return services.review.cancel_fine(fine_id, actor=_actor(t), reason=body.reason)

    # ------------------------------------------------------------------ fines
    @app.get(
        "/v1/fines",
        response_model=list[NoticeView],
        responses={**ERRORS, 429: {"model": ErrorBody, "description": "Rate limited"}},
        tags=["fines"],
    )
    def lookup(
        request: Request,
        t: Looker,
        plate: Annotated[
            str, Query(min_length=1, max_length=40, description="Plate in any form: 51F-123.45")
        ],
        unpaid_only: Annotated[bool, Query(description="Only fines still to pay")] = False,
    ) -> list[NoticeView]:
        wait = limiter.take_all(
            [
                Charge(f"token:{t.id}", rl.capacity, rl.refill_per_s),
                Charge(f"ip:{ip_of(request)}", ip_capacity, ip_refill),
            ]
        )
        if wait > 0:
            raise HTTPException(
                429,
                f"lookup rate limit reached; retry in {wait:.1f} s",
                headers={"Retry-After": str(max(1, int(wait + 0.999)))},
            )
        return services.payments.lookup(plate, include_closed=not unpaid_only)

    @app.get(
        "/v1/fines/{fine_id}", response_model=NoticeView, responses={**ERRORS, **NOT_FOUND}, tags=["fines"]
    )
    def fine(fine_id: FineId, _t: Looker) -> NoticeView:
        return services.payments.get_fine(fine_id)

    @app.post(
        "/v1/fines/{fine_id}/pay",
        response_model=ReceiptView,
        responses={**ERRORS, **NOT_FOUND, **CONFLICT},
        tags=["fines"],
    )
    def pay(
        fine_id: FineId,
        body: PayRequest,
        t: Payer,
        idempotency_key: Annotated[str, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_PATTERN)],
    ) -> ReceiptView:
        return services.payments.pay(fine_id, idempotency_key, body.amount_vnd, actor=_actor(t))

    # ------------------------------------------------------------------ ingest
    @app.post(
        "/v1/ingest",
        response_model=IngestResponse,
        responses={
            **ERRORS,
            413: {"model": ErrorBody, "description": "Bundle too large"},
            415: {"model": ErrorBody, "description": "Not a tar upload"},
        },
        tags=["ingest"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/x-tar": {"schema": {"type": "string", "format": "binary"}}},
            }
        },
    )
    async def ingest(request: Request, t: Ingester) -> JSONResponse:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in TAR_TYPES:
            raise HTTPException(
                415, f"send the bundle as a tar archive ({', '.join(TAR_TYPES)}), got {ctype!r}"
            )
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cfg.max_upload_bytes:
            raise HTTPException(413, f"bundle of {declared} bytes exceeds {cfg.max_upload_bytes}")
        # spooled: small bundles stay in memory, big ones (clips) go to a temp file
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as buf:
            async for chunk in request.stream():
                buf.write(chunk)
                if buf.tell() > cfg.max_upload_bytes:
                    raise HTTPException(413, f"bundle exceeds {cfg.max_upload_bytes} bytes")
            buf.seek(0)
            ip = ip_of(request)
            result = await run_in_threadpool(
                services.ingest.ingest_tar, buf, actor=_actor(t), source=f"api:{t.name}@{ip}"
            )
        body = IngestResponse(
            status=result.status,
            event_id=result.event_id,
            violation_id=result.violation_id,
            reason=result.reason,
            quarantine_id=result.quarantine_id,
        )
        return JSONResponse(
            body.model_dump(mode="json"), status_code=422 if result.status == "rejected" else 200
        )

    install_console(app)  # the web console (/console/) and the routes it reads
    install_metrics(app, services)  # /metrics for Prometheus
    return app
