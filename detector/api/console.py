"""The command centre's web console, served by `detector serve` beside the API.

Plain HTML, CSS and JavaScript shipped in the package (`detector/api/console/`): no build step, no
CDN, works offline. The page asks for an API token and keeps it in the tab's sessionStorage; every
request it makes carries that token, so the API's roles decide what it sees (a viewer gets no review
queue). Evidence images and the clip are fetched with the token and shown from blob URLs.

Also the API routes only the console needs: who a token is, the cameras' health, a stored
violation's evidence verified again, the cameras with traffic statistics (and their first and last
interval), the newest hotlist alerts and a sighting's picture.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import Field
from sqlalchemy import func, select

from detector.api.auth import require
from detector.api.schemas import MAX_ID, ErrorBody, FeedPage
from detector.base import FrozenModel
from detector.store.errors import NotFound
from detector.store.heartbeat import CameraView, Heartbeat
from detector.store.hotlists import HotlistAlertView
from detector.store.network_models import HotlistAlert, TrafficStatRow
from detector.store.tokens import Role, TokenInfo
from detector.store.verification import VerificationView, verify_stored
from detector.store.views import ViolationView

STATIC = Path(__file__).with_name("console")
CONSOLE_PATH = "/console/"
CAMERA_ID = r"^[A-Za-z0-9_.-]{1,64}$"
JPEG_MAGIC = b"\xff\xd8\xff"

AnyRole = Annotated[TokenInfo, Depends(require(*Role))]
Viewer = Annotated[TokenInfo, Depends(require(Role.VIEWER, Role.REVIEWER))]
Reviewer = Annotated[TokenInfo, Depends(require(Role.REVIEWER))]
ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "Missing, invalid or expired token"},
    403: {"model": ErrorBody, "description": "The token's role may not do this"},
    404: {"model": ErrorBody, "description": "No such object"},
}


class WhoAmI(FrozenModel):
    id: int = Field(description="Token id")
    name: str = Field(description="Who holds the token")
    role: Role = Field(description="What the token may do")
    expires_at: str = Field(description="When it expires (ISO 8601, UTC)")


class StatsCamera(FrozenModel):
    camera_id: str = Field(description="Camera with traffic statistics")
    first_interval: datetime = Field(description="Start of its first stored interval (UTC)")
    last_interval: datetime = Field(description="Start of its last stored interval (UTC)")
    rows: int = Field(description="Stored rows")


def _stats_cameras(request: Request) -> list[StatsCamera]:
    r = TrafficStatRow
    q = (
        select(r.camera_id, func.min(r.interval_start), func.max(r.interval_start), func.count())
        .group_by(r.camera_id)
        .order_by(r.camera_id)
    )
    with request.app.state.services.db.session() as s:
        return [
            StatsCamera(camera_id=c, first_interval=a, last_interval=b, rows=n) for c, a, b, n in s.execute(q)
        ]


def _alert_view(row: HotlistAlert) -> HotlistAlertView:
    return HotlistAlertView(**{n: getattr(row, n) for n in HotlistAlertView.model_fields})


def _latest_alerts(request: Request, limit: int) -> list[HotlistAlertView]:
    q = select(HotlistAlert).order_by(HotlistAlert.id.desc()).limit(limit)
    with request.app.state.services.db.session() as s:
        return [_alert_view(a) for a in s.scalars(q)]


def _alert_picture(request: Request, alert_id: int) -> Path:
    """The sighting's picture, where this host holds it (an edge box's store, or a shared folder):
    only a regular file named .jpg/.jpeg that begins as a JPEG does, never any other file a path
    might name."""
    with request.app.state.services.db.session() as s:
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


def router() -> APIRouter:
    r = APIRouter(tags=["console"])

    @r.get("/v1/whoami", response_model=WhoAmI, responses=ERRORS)
    def whoami(t: AnyRole) -> WhoAmI:
        return WhoAmI(id=t.id, name=t.name, role=t.role, expires_at=t.expires_at.isoformat())

    @r.get("/v1/feed/latest", response_model=list[ViolationView], responses=ERRORS)
    def latest(
        request: Request, _t: Viewer, limit: Annotated[int, Query(ge=1, le=500)] = 60
    ) -> list[ViolationView]:
        """The newest violations, newest first: the feed's first screen, before it follows the stream."""
        return request.app.state.services.feed.latest(limit)

    @r.get("/v1/review/queue", response_model=FeedPage, responses=ERRORS)
    def review_queue(
        request: Request,
        _t: Reviewer,
        after: Annotated[int, Query(ge=0, le=MAX_ID, description="Cursor: last id already seen")] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> FeedPage:
        """Pending violations, oldest first: what reviewers decide (reviewers only)."""
        items = request.app.state.services.feed.page(after, limit, "pending")
        return FeedPage(
            items=tuple(items), next_cursor=items[-1].id if items else after, has_more=len(items) == limit
        )

    @r.get("/v1/cameras", response_model=list[CameraView], responses=ERRORS)
    def cameras(request: Request, _t: Viewer) -> list[CameraView]:
        return request.app.state.services.heartbeats.cameras()

    @r.get("/v1/cameras/{camera_id}/heartbeats", response_model=list[Heartbeat], responses=ERRORS)
    def heartbeats(
        request: Request,
        _t: Viewer,
        camera_id: Annotated[str, PathParam(pattern=CAMERA_ID)],
        limit: Annotated[int, Query(ge=1, le=1000)] = 120,
    ) -> list[Heartbeat]:
        return request.app.state.services.heartbeats.history(camera_id, limit)

    @r.get("/v1/violations/{violation_id}/verification", response_model=VerificationView, responses=ERRORS)
    def verification(
        request: Request, _t: Viewer, violation_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]
    ) -> VerificationView:
        svc = request.app.state.services
        return verify_stored(svc.db, svc.feed.evidence_dir, svc.ingest.keys, violation_id)

    @r.get("/v1/stats/cameras", response_model=list[StatsCamera], responses=ERRORS)
    def stats_cameras(request: Request, _t: Viewer) -> list[StatsCamera]:
        """Cameras with traffic statistics, with their first and last interval: the traffic page's choices."""
        return _stats_cameras(request)

    @r.get("/v1/hotlist/alerts/latest", response_model=list[HotlistAlertView], responses=ERRORS)
    def latest_alerts(
        request: Request, _t: Viewer, limit: Annotated[int, Query(ge=1, le=500)] = 100
    ) -> list[HotlistAlertView]:
        """The newest hotlist alerts, newest first: the alerts page's first screen, before the stream."""
        return _latest_alerts(request, limit)

    @r.get("/v1/hotlist/alerts/{alert_id}/picture", responses=ERRORS, response_class=FileResponse)
    def alert_picture(
        request: Request, _t: Viewer, alert_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]
    ) -> FileResponse:
        """The picture of the sighting (JPEG), when this host holds it; 404 names the path otherwise."""
        return FileResponse(_alert_picture(request, alert_id), media_type="image/jpeg")

    @r.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(CONSOLE_PATH)

    @r.get("/console", include_in_schema=False)
    def console_noslash() -> RedirectResponse:
        return RedirectResponse(CONSOLE_PATH)

    @r.get(CONSOLE_PATH, include_in_schema=False)
    def console_index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html", headers=_PAGE_HEADERS)

    return r


# the page loads only its own files; evidence comes from the API as blobs
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
}


def install_console(app: FastAPI) -> None:
    """Mount the console's files at /console/static and its routes (and / redirecting to it)."""
    app.include_router(router())
    app.mount("/console/static", StaticFiles(directory=STATIC, check_dir=True), name="console-static")
