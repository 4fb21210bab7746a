"""The API's own health and `/metrics` for Prometheus (no token: counts and figures only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from detector.api.deps import Services
from detector.api.schemas import Health

router = APIRouter(tags=["meta"])


def get_registry(request: Request) -> CollectorRegistry:
    """The app's own metrics registry (`app.state.metrics`, see `detector.api.metrics`)."""
    registry: CollectorRegistry = request.app.state.metrics
    return registry


@router.get("/v1/health", response_model=Health)
def health(svc: Services) -> Health:
    return Health(database=svc.db.dialect)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(registry: Annotated[CollectorRegistry, Depends(get_registry)]) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
