"""The evidence feed: violations as cursor pages, the newest first screen, one violation, its
evidence files (and their signatures checked again), and the feed as server-sent events."""

from __future__ import annotations

import mimetypes
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, StreamingResponse

from detector.api.auth import Viewer
from detector.api.deps import CAMERA_ID, CONSOLE_ERRORS, ERRORS, NOT_FOUND, Services, ViolationId
from detector.api.schemas import MAX_ID, FeedPage
from detector.api.sse import sse_events
from detector.store.verification import VerificationView, verify_stored
from detector.store.views import ViolationView

router = APIRouter()


@router.get("/v1/violations", response_model=FeedPage, responses=ERRORS, tags=["feed"])
def feed_page(
    svc: Services,
    _t: Viewer,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="Cursor: last id already seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size (capped by feed_page_max)")] = 100,
    status: Annotated[str | None, Query(pattern="^(pending|confirmed|rejected)$")] = None,
    camera_id: Annotated[str | None, Query(pattern=CAMERA_ID)] = None,
) -> FeedPage:
    limit = min(limit, svc.config.feed_page_max)
    return page_of(svc.feed.page(after, limit, status, camera_id), after, limit)


def page_of(items: list[ViolationView], after: int, limit: int) -> FeedPage:
    return FeedPage(
        items=tuple(items), next_cursor=items[-1].id if items else after, has_more=len(items) == limit
    )


@router.get(
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
    svc: Services,
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
    gen = sse_events(request, svc.feed.page, start, follow=follow, poll_s=svc.config.sse_poll_s)
    return StreamingResponse(gen, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.get(
    "/v1/violations/{violation_id}",
    response_model=ViolationView,
    responses={**ERRORS, **NOT_FOUND},
    tags=["feed"],
)
def violation(violation_id: ViolationId, svc: Services, _t: Viewer) -> ViolationView:
    return svc.feed.get(violation_id)


@router.get(
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
    svc: Services,
    _t: Viewer,
) -> FileResponse:
    path, sha = svc.feed.evidence_file(violation_id, name)
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


@router.get(
    "/v1/violations/{violation_id}/verification",
    response_model=VerificationView,
    responses=CONSOLE_ERRORS,
    tags=["console"],
)
def verification(
    svc: Services, _t: Viewer, violation_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> VerificationView:
    return verify_stored(svc.db, svc.feed.evidence_dir, svc.ingest.keys, violation_id)


@router.get("/v1/feed/latest", response_model=list[ViolationView], responses=CONSOLE_ERRORS, tags=["console"])
def latest(svc: Services, _t: Viewer, limit: Annotated[int, Query(ge=1, le=500)] = 60) -> list[ViolationView]:
    """The newest violations, newest first: the feed's first screen, before it follows the stream."""
    return svc.feed.latest(limit)
