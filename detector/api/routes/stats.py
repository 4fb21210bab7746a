"""Traffic statistics (per camera, interval, lane and class), the cameras that have them, and
average-speed section violations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import Field
from sqlalchemy import func, select

from detector.api.auth import Viewer
from detector.api.deps import CAMERA_ID, CONSOLE_ERRORS, NETWORK_ERRORS, Services
from detector.base import FrozenModel
from detector.store.network_models import TrafficStatRow
from detector.store.sections import SectionViolationView
from detector.store.traffic import TrafficStatView

router = APIRouter()


class StatsCamera(FrozenModel):
    camera_id: str = Field(description="Camera with traffic statistics")
    first_interval: datetime = Field(description="Start of its first stored interval (UTC)")
    last_interval: datetime = Field(description="Start of its last stored interval (UTC)")
    rows: int = Field(description="Stored rows")


@router.get("/v1/stats", response_model=list[TrafficStatView], responses=NETWORK_ERRORS, tags=["statistics"])
def traffic_stats(
    svc: Services,
    _t: Viewer,
    camera_id: Annotated[str | None, Query(pattern=CAMERA_ID)] = None,
    since: Annotated[datetime | None, Query(description="Intervals starting at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="Intervals starting before (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=20000)] = 5000,
) -> list[TrafficStatView]:
    """Traffic statistics per camera, interval, lane and class (lane rows: occupancy, queue, congestion)."""
    for name, t in (("since", since), ("until", until)):
        if t is not None and t.tzinfo is None:
            raise HTTPException(422, f"{name} must carry a time zone (e.g. 2026-12-07T08:00:00Z)")
    return svc.traffic.query(camera_id, since, until, limit)


@router.get("/v1/stats/cameras", response_model=list[StatsCamera], responses=CONSOLE_ERRORS, tags=["console"])
def stats_cameras(svc: Services, _t: Viewer) -> list[StatsCamera]:
    """Cameras with traffic statistics, with their first and last interval: the traffic page's choices."""
    r = TrafficStatRow
    q = (
        select(r.camera_id, func.min(r.interval_start), func.max(r.interval_start), func.count())
        .group_by(r.camera_id)
        .order_by(r.camera_id)
    )
    with svc.db.session() as s:
        return [
            StatsCamera(camera_id=c, first_interval=a, last_interval=b, rows=n) for c, a, b, n in s.execute(q)
        ]


@router.get(
    "/v1/sections/violations",
    response_model=list[SectionViolationView],
    responses=NETWORK_ERRORS,
    tags=["sections"],
)
def section_violations(
    svc: Services,
    _t: Viewer,
    decision: Annotated[str | None, Query(pattern="^(fine|review)$")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[SectionViolationView]:
    """Average-speed violations with both cameras' bundles by reference."""
    return svc.sections.list(decision, limit)
