"""What the routes are given, the FastAPI way (`Depends`): the store's services, the lookup rate
limiter and the client's address, all read from the app's state that `create_app` sets once, and the
error responses the routes document.

A route names what it needs in its signature (`svc: Services`, `limiter: Limiter`, `ip: ClientAddress`)
and tests swap any of them with `app.dependency_overrides`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request

from detector.api.ratelimit import IPNetwork, client_ip
from detector.api.ratelimit_db import BucketLimiter
from detector.api.schemas import MAX_ID, ErrorBody
from detector.store.services import StoreServices
from detector.store.tokens import TokenInfo

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing, invalid or expired token"},
    403: {"model": ErrorBody, "description": "The token's role may not do this"},
    422: {"model": ErrorBody, "description": "Malformed or unacceptable request"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such object"}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "Clashes with current state"}
}
#: the console's routes (401, 403, 404; 422 is added by FastAPI where a route validates input)
CONSOLE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing, invalid or expired token"},
    403: {"model": ErrorBody, "description": "The token's role may not do this"},
    404: {"model": ErrorBody, "description": "No such object"},
}
#: hotlists, statistics and sections
NETWORK_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid token"},
    403: {"model": ErrorBody, "description": "Wrong role"},
    422: {"model": ErrorBody, "description": "Malformed request"},
}
CAMERA_ID = r"^[A-Za-z0-9_.-]{1,64}$"

ViolationId = Annotated[int, Path(ge=1, le=MAX_ID, description="Violation id")]
FineId = Annotated[int, Path(ge=1, le=MAX_ID, description="Fine id")]


def get_services(request: Request) -> StoreServices:
    """The store's services (`app.state.services`, built at the edge with a clock)."""
    services: StoreServices = request.app.state.services
    return services


def get_limiter(request: Request) -> BucketLimiter:
    """The lookup rate limiter (`app.state.lookup_limiter`): in-process or in the database."""
    limiter: BucketLimiter = request.app.state.lookup_limiter
    return limiter


def client_address(request: Request) -> str:
    """The address a request counts against (`X-Forwarded-For` believed from trusted proxies only)."""
    proxies: tuple[IPNetwork, ...] = request.app.state.trusted_proxies
    peer = request.client.host if request.client else None
    return client_ip(peer, request.headers.get("x-forwarded-for"), proxies)


Services = Annotated[StoreServices, Depends(get_services)]
Limiter = Annotated[BucketLimiter, Depends(get_limiter)]
ClientAddress = Annotated[str, Depends(client_address)]


def actor(t: TokenInfo) -> str:
    """How the audit log names the token's holder."""
    return f"{t.name}#{t.id}"


def refuse_if_waiting(wait: float) -> None:
    """429 with `Retry-After` when the limiter asks the client to wait."""
    if wait > 0:
        raise HTTPException(
            429,
            f"lookup rate limit reached; retry in {wait:.1f} s",
            headers={"Retry-After": str(max(1, int(wait + 0.999)))},
        )
