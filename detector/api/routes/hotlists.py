"""Hotlists: wanted plates (reviewers add and withdraw), the file edge boxes pull, and alerts as a
page, the newest first screen, a sighting's picture, or a server-sent-event stream
(`event: hotlist`, `id:` the alert id)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import Field
from sqlalchemy import select

from detector.api.auth import Edge, Reviewer, Viewer
from detector.api.deps import CONSOLE_ERRORS, NETWORK_ERRORS, Services, actor
from detector.api.schemas import MAX_ID, TEXT_PATTERN, CancelRequest
from detector.api.sse import sse_events
from detector.base import FrozenModel
from detector.store.errors import NotFound
from detector.store.hotlists import HotlistAlertView, HotlistEntryView
from detector.store.network_models import HotlistAlert
from detector.store.services import StoreServices

router = APIRouter()
JPEG_MAGIC = b"\xff\xd8\xff"


class HotlistAdd(FrozenModel):
    plate: str = Field(
        min_length=1, max_length=32, pattern=TEXT_PATTERN, description="Wanted plate, any form"
    )
    reason: Literal["stolen", "hit_and_run", "wanted"] = Field(description="Why it is wanted")
    unit: str = Field(min_length=1, max_length=200, pattern=TEXT_PATTERN, description="Unit that wants it")
    note: str = Field(default="", max_length=2000, pattern=TEXT_PATTERN, description="Free text")


@router.get("/v1/hotlist", response_model=list[HotlistEntryView], responses=NETWORK_ERRORS, tags=["hotlist"])
def hotlist(svc: Services, _t: Viewer) -> list[HotlistEntryView]:
    return svc.hotlists.active()


@router.post("/v1/hotlist", response_model=HotlistEntryView, responses=NETWORK_ERRORS, tags=["hotlist"])
def hotlist_add(svc: Services, body: HotlistAdd, t: Reviewer) -> HotlistEntryView:
    return svc.hotlists.add(body.plate, body.reason, body.unit, actor=actor(t), note=body.note)


@router.post(
    "/v1/hotlist/{entry_id}/withdraw",
    response_model=HotlistEntryView,
    responses=NETWORK_ERRORS,
    tags=["hotlist"],
)
def hotlist_withdraw(
    svc: Services, entry_id: Annotated[int, PathParam(ge=1, le=MAX_ID)], body: CancelRequest, t: Reviewer
) -> HotlistEntryView:
    return svc.hotlists.withdraw(entry_id, actor=actor(t), reason=body.reason)


@router.get("/v1/hotlist/export", responses=NETWORK_ERRORS, tags=["hotlist"], response_class=Response)
def hotlist_export(svc: Services, _t: Edge) -> Response:
    """The file an edge box runs with (`hotlist.json`)."""
    return Response(svc.hotlists.export_json(), media_type="application/json")


@router.get(
    "/v1/hotlist/alerts", response_model=list[HotlistAlertView], responses=NETWORK_ERRORS, tags=["hotlist"]
)
def hotlist_alerts(
    svc: Services,
    _t: Viewer,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[HotlistAlertView]:
    return svc.hotlists.alerts(after, limit)


@router.get(
    "/v1/hotlist/alerts/stream", responses=NETWORK_ERRORS, tags=["hotlist"], response_class=StreamingResponse
)
async def hotlist_alert_stream(
    request: Request,
    svc: Services,
    _t: Viewer,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    follow: Annotated[bool, Query(description="Keep the stream open")] = True,
) -> StreamingResponse:
    """Server-sent events of hotlist alerts as the store records them."""
    events = sse_events(
        request, svc.hotlists.alerts, after, follow=follow, poll_s=svc.config.sse_poll_s, event="hotlist"
    )
    return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.get(
    "/v1/hotlist/alerts/latest",
    response_model=list[HotlistAlertView],
    responses=CONSOLE_ERRORS,
    tags=["console"],
)
def latest_alerts(
    svc: Services, _t: Viewer, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[HotlistAlertView]:
    """The newest hotlist alerts, newest first: the alerts page's first screen, before the stream."""
    q = select(HotlistAlert).order_by(HotlistAlert.id.desc()).limit(limit)
    with svc.db.session() as s:
        return [_alert_view(a) for a in s.scalars(q)]


@router.get(
    "/v1/hotlist/alerts/{alert_id}/picture",
    responses=CONSOLE_ERRORS,
    response_class=FileResponse,
    tags=["console"],
)
def alert_picture(
    svc: Services, _t: Viewer, alert_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]
) -> FileResponse:
    """The picture of the sighting (JPEG), when this host holds it; 404 names the path otherwise."""
    return FileResponse(_alert_picture(svc, alert_id), media_type="image/jpeg")


def _alert_view(row: HotlistAlert) -> HotlistAlertView:
    return HotlistAlertView(**{n: getattr(row, n) for n in HotlistAlertView.model_fields})


def _alert_picture(svc: StoreServices, alert_id: int) -> Path:
    """The sighting's picture, where this host holds it (an edge box's store, or a shared folder):
    only a regular file named .jpg/.jpeg that begins as a JPEG does, never any other file a path
    might name."""
    with svc.db.session() as s:
        row = s.get(HotlistAlert, alert_id)
        picture = row.picture if row is not None else None
    if row is None:
        raise NotFound(f"hotlist alert {alert_id} not found")
    if not picture:
        raise NotFound(f"hotlist alert {alert_id} has no picture")
    path = Path(picture)
    try:
        ok = path.suffix.lower() in (".jpg", ".jpeg") and path.is_file()
        if ok:
            with path.open("rb") as fh:
                ok = fh.read(3) == JPEG_MAGIC
    except OSError:
        ok = False
    if not ok:
        raise NotFound(f"hotlist alert {alert_id}: the picture is not on this host ({picture})")
    return path
