"""The database-backed rate limiter: one budget for every process that serves the store.

Two separate processes spend from the same bucket and together get exactly its capacity; a real
`uvicorn --workers 2` server over PostgreSQL answers at most the configured burst of lookups, however
its connections are spread over the workers.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from detector.api.ratelimit import Charge
from detector.api.ratelimit_db import DbBucketLimiter
from detector.store.db import Database, upgrade

CAPACITY = 12


def _spend(url: str, attempts: int, start: mp.synchronize.Event, out: mp.Queue) -> None:
    db = Database.from_url(url)
    limiter = DbBucketLimiter(db, CAPACITY, 1e-6)  # refills nothing in the test's time
    start.wait(30)
    granted = sum(limiter.take("token:7") == 0.0 for _ in range(attempts))
    db.dispose()
    out.put(granted)


def test_two_processes_share_one_budget(db_url: str) -> None:  # noqa: F811
    db = Database.from_url(db_url)
    upgrade(db.engine)
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_spend, args=(db_url, CAPACITY, start, out)) for _ in range(2)]
    for p in procs:
        p.start()
    start.set()
    granted = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    assert sum(granted) == CAPACITY, granted  # in-process buckets would grant 2 x CAPACITY
    # a request charged to two buckets pays nothing when one is empty
    limiter = DbBucketLimiter(db, CAPACITY, 1e-6)
    assert limiter.take_all([Charge("token:7", CAPACITY, 1e-6), Charge("ip:a", 100, 1e-6)]) > 0
    assert limiter.take_all([Charge("ip:a", 100, 1e-6)]) == 0.0
    with db.engine.connect() as conn:
        from sqlalchemy import text

        left = conn.execute(text("SELECT tokens FROM rate_buckets WHERE key = 'ip:a'")).scalar_one()
    db.dispose()
    assert left == pytest.approx(99.0, abs=1e-3)  # one charge, not two


def test_refill_follows_the_clock(db_url: str) -> None:  # noqa: F811
    db = Database.from_url(db_url)
    upgrade(db.engine)
    now = [1000.0]
    limiter = DbBucketLimiter(db, 2, 0.5, clock=lambda: now[0])
    assert [limiter.take("k") for _ in range(2)] == [0.0, 0.0]
    assert limiter.take("k") == pytest.approx(2.0)
    now[0] += 2.0
    assert limiter.take("k") == 0.0
    now[0] -= 50.0  # a clock that steps back gives no tokens (and takes none)
    assert limiter.take("k") == pytest.approx(2.0)
    # a bucket full again is as good as none: pruned, and the next take starts from a full bucket
    assert limiter.prune() == 0
    now[0] += 100.0
    assert limiter.take("other") == 0.0
    assert limiter.prune() == 1  # "k" (full since its refill), not "other" (just spent)
    assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, pytest.approx(2.0)]
    db.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.postgres
def test_uvicorn_workers_share_the_lookup_budget(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    from detector.store.services import build_services

    cfg = {
        "url": pg_url,
        "evidence_dir": str(tmp_path / "ev"),
        "quarantine_dir": str(tmp_path / "q"),
        "trusted_keys": str(tmp_path / "keys"),
        "lookup_rate_limit": {"capacity": 5, "refill_per_s": 0.001},
    }
    (tmp_path / "keys").mkdir()
    path = tmp_path / "store.yaml"
    path.write_text(yaml.safe_dump(cfg))
    db = Database.from_url(pg_url)
    upgrade(db.engine)
    from detector.config import load_store_config

    services = build_services(load_store_config(path), db=db)
    token = services.tokens.create("load", "viewer", timedelta(days=1)).secret
    services.close()
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "--workers",
            "2",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "detector.api.workers:create",
        ],
        env={**os.environ, "DETECTOR_STORE_CONFIG": str(path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/docs", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.5)
        codes = []
        for _ in range(12):  # a new connection each time: the kernel spreads them over both workers
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
                codes.append(client.get("/v1/fines", params={"plate": "51F-123.45"}).status_code)
        assert codes.count(200) == 5 and codes.count(429) == 7, codes
    finally:
        server.terminate()
        server.wait(30)
