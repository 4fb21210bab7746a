"""The cameras' health: every camera's last heartbeat and a camera's heartbeat history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam

from detector.api.auth import Viewer
from detector.api.deps import CAMERA_ID, CONSOLE_ERRORS, Services
from detector.store.heartbeat import CameraView, Heartbeat

router = APIRouter()


@router.get("/v1/cameras", response_model=list[CameraView], responses=CONSOLE_ERRORS, tags=["console"])
def cameras(svc: Services, _t: Viewer) -> list[CameraView]:
    return svc.heartbeats.cameras()


@router.get(
    "/v1/cameras/{camera_id}/heartbeats",
    response_model=list[Heartbeat],
    responses=CONSOLE_ERRORS,
    tags=["console"],
)
def heartbeats(
    svc: Services,
    _t: Viewer,
    camera_id: Annotated[str, PathParam(pattern=CAMERA_ID)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 120,
) -> list[Heartbeat]:
    return svc.heartbeats.history(camera_id, limit)
