"""The HTTP API: evidence feed (cursor pages and server-sent events), evidence files, review,
fines lookup (rate limited) and payment, notices, hotlists, statistics, the cameras' health, bundle
ingest, the web console and `/metrics`. OpenAPI at /openapi.json, docs at /docs.

`create_app(services)` takes the store's services (built at the edge with a clock) and an optional
monotonic clock for the rate limiter, so tests control both kinds of time. It only assembles: the
routes are in `detector.api.routes` (one router per area), what they are given in `detector.api.deps`
and `detector.api.auth`, the error bodies in `detector.api.errors`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import FastAPI

from detector import __version__
from detector.api.errors import install_error_handlers
from detector.api.metrics import metrics_registry
from detector.api.ratelimit import TokenBucketLimiter, parse_networks
from detector.api.ratelimit_db import BucketLimiter
from detector.api.routes import cameras, console, feed, fines, hotlists, ingest, meta, notices, review, stats
from detector.store.services import StoreServices

#: in the order they are matched
ROUTERS = (
    notices.router,
    hotlists.router,
    stats.router,
    meta.router,
    feed.router,
    review.router,
    fines.router,
    ingest.router,
    cameras.router,
    console.router,
)


def create_app(
    services: StoreServices,
    *,
    monotonic: Callable[[], float] = time.monotonic,
    limiter: BucketLimiter | None = None,
) -> FastAPI:
    """The API over `services`. `limiter` defaults to in-process buckets; several worker processes
    share one budget with `detector.api.ratelimit_db.DbBucketLimiter` (`detector.api.workers`)."""
    rl = services.config.lookup_rate_limit
    app = FastAPI(
        title="detector: violation store",
        version=__version__,
        description="Evidence feed, review, fines lookup and payment of the traffic-camera violation engine. "
        "Authenticate with `Authorization: Bearer <token>` (tokens from `detector tokens create`).",
    )
    # what the dependencies in detector.api.deps hand to the routes
    app.state.services = services
    app.state.lookup_limiter = limiter or TokenBucketLimiter(rl.capacity, rl.refill_per_s, monotonic)
    app.state.trusted_proxies = parse_networks(services.config.trusted_proxies)
    app.state.metrics = metrics_registry(services)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    console.mount_static(app)
    return app
