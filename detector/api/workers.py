"""The API for several worker processes: `uvicorn --factory --workers N detector.api.workers:create`.

Each worker process builds its own services from the store config named by
`$DETECTOR_STORE_CONFIG` (PostgreSQL centrally) and spends lookups from the database's rate-limit
buckets (`DbBucketLimiter`), so the configured rate holds for the whole server, not per worker.

    DETECTOR_STORE_CONFIG=central.yaml uvicorn --factory --workers 4 --host 0.0.0.0 --port 8080 \\
        detector.api.workers:create
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from detector.api.app import create_app
from detector.api.ratelimit_db import DbBucketLimiter
from detector.config import load_store_config
from detector.store.db import utc_now
from detector.store.services import build_services


def create() -> FastAPI:
    """One worker's app (called by uvicorn in each worker process)."""
    cfg = load_store_config(os.environ.get("DETECTOR_STORE_CONFIG"))
    services = build_services(cfg, clock=utc_now)
    rl = cfg.lookup_rate_limit
    return create_app(services, limiter=DbBucketLimiter(services.db, rl.capacity, rl.refill_per_s))
