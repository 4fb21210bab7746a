"""HTTP routes of hotlists: wanted plates (reviewers add and withdraw), the file edge boxes pull,
and alerts as a page or a server-sent-event stream (`event: hotlist`, `id:` the alert id)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import Field

from detector.api.auth import require
from detector.api.feed import KEEPALIVE_S, format_event
from detector.api.schemas import MAX_ID, TEXT_PATTERN, CancelRequest, ErrorBody
from detector.base import FrozenModel
from detector.store.hotlists import HotlistAlertView, HotlistEntryView
from detector.store.sections import SectionViolationView
from detector.store.services import StoreServices
from detector.store.tokens import Role, TokenInfo
from detector.store.traffic import TrafficStatView

router = APIRouter()
Viewer = Annotated[TokenInfo, Depends(require(Role.VIEWER, Role.REVIEWER))]
Reviewer = Annotated[TokenInfo, Depends(require(Role.REVIEWER))]
Edge = Annotated[TokenInfo, Depends(require(Role.VIEWER, Role.REVIEWER, Role.INGEST))]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid token"},
    403: {"model": ErrorBody, "description": "Wrong role"},
    422: {"model": ErrorBody, "description": "Malformed request"},
}


class HotlistAdd(FrozenModel):
    plate: str = Field(
        min_length=1, max_length=32, pattern=TEXT_PATTERN, description="Wanted plate, any form"
    )
    reason: Literal["stolen", "hit_and_run", "wanted"] = Field(description="Why it is wanted")
    unit: str = Field(min_length=1, max_length=200, pattern=TEXT_PATTERN, description="Unit that wants it")
    note: str = Field(default="", max_length=2000, pattern=TEXT_PATTERN, description="Free text")


def _svc(request: Request) -> StoreServices:
    services: StoreServices = request.app.state.services
    return services


@router.get("/v1/hotlist", response_model=list[HotlistEntryView], responses=ERRORS, tags=["hotlist"])
def hotlist(request: Request, _t: Viewer) -> list[HotlistEntryView]:
    return _svc(request).hotlists.active()


@router.post("/v1/hotlist", response_model=HotlistEntryView, responses=ERRORS, tags=["hotlist"])
def hotlist_add(request: Request, body: HotlistAdd, t: Reviewer) -> HotlistEntryView:
    return _svc(request).hotlists.add(
        body.plate, body.reason, body.unit, actor=f"{t.name}#{t.id}", note=body.note
    )


@router.post(
    "/v1/hotlist/{entry_id}/withdraw", response_model=HotlistEntryView, responses=ERRORS, tags=["hotlist"]
)
def hotlist_withdraw(
    request: Request, entry_id: Annotated[int, Path(ge=1, le=MAX_ID)], body: CancelRequest, t: Reviewer
) -> HotlistEntryView:
    return _svc(request).hotlists.withdraw(entry_id, actor=f"{t.name}#{t.id}", reason=body.reason)


@router.get("/v1/hotlist/export", responses=ERRORS, tags=["hotlist"], response_class=Response)
def hotlist_export(request: Request, _t: Edge) -> Response:
    """The file an edge box runs with (`hotlist.json`)."""
    return Response(_svc(request).hotlists.export_json(), media_type="application/json")


@router.get("/v1/hotlist/alerts", response_model=list[HotlistAlertView], responses=ERRORS, tags=["hotlist"])
def hotlist_alerts(
    request: Request,
    _t: Viewer,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[HotlistAlertView]:
    return _svc(request).hotlists.alerts(after, limit)


async def _alert_events(request: Request, after: int, follow: bool, poll_s: float) -> AsyncIterator[str]:
    svc = _svc(request).hotlists
    last, idle = after, 0.0
    yield "retry: 3000\n\n"
    while True:
        page = await run_in_threadpool(svc.alerts, last, 100)
        for a in page:
            yield format_event(a.id, a.model_dump_json(), event="hotlist")
            last = a.id
        if len(page) == 100:
            continue
        if not follow or await request.is_disconnected():
            return
        await anyio.sleep(poll_s)
        idle += poll_s
        if idle >= KEEPALIVE_S:
            idle = 0.0
            yield ": keepalive\n\n"


@router.get("/v1/hotlist/alerts/stream", responses=ERRORS, tags=["hotlist"], response_class=StreamingResponse)
async def hotlist_alert_stream(
    request: Request,
    _t: Viewer,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    follow: Annotated[bool, Query(description="Keep the stream open")] = True,
) -> StreamingResponse:
    """Server-sent events of hotlist alerts as the store records them."""
    poll = _svc(request).config.sse_poll_s
    return StreamingResponse(
        _alert_events(request, after, follow, poll),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/v1/stats", response_model=list[TrafficStatView], responses=ERRORS, tags=["statistics"])
def traffic_stats(
    request: Request,
    _t: Viewer,
    camera_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = None,
    since: Annotated[datetime | None, Query(description="Intervals starting at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="Intervals starting before (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=20000)] = 5000,
) -> list[TrafficStatView]:
    """Traffic statistics per camera, interval, lane and class (lane rows: occupancy, queue, congestion)."""
    for name, t in (("since", since), ("until", until)):
        if t is not None and t.tzinfo is None:
            raise HTTPException(422, f"{name} must carry a time zone (e.g. 2026-12-07T08:00:00Z)")
    return _svc(request).traffic.query(camera_id, since, until, limit)


@router.get(
    "/v1/sections/violations", response_model=list[SectionViolationView], responses=ERRORS, tags=["sections"]
)
def section_violations(
    request: Request,
    _t: Viewer,
    decision: Annotated[str | None, Query(pattern="^(fine|review)$")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[SectionViolationView]:
    """Average-speed violations with both cameras' bundles by reference."""
    return _svc(request).sections.list(decision, limit)
