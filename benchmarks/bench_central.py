"""The central store under load: N edge boxes push bundles over HTTP and heartbeats over MQTT while C API
clients look up plates.

Loopback only, bounded loops. A fresh PostgreSQL database (migrated: monthly partitions, database
rate-limit buckets) behind `uvicorn --factory --workers W detector.api.workers:create`; then, at once:

- N edge-box processes, each with its own signing key and camera, POST their signed bundles (tar)
  to /v1/ingest one after another (as `detector/store/forwarder.py` does) and, all the while, publish
  their camera's heartbeat every `--heartbeat-s` to Mosquitto (127.0.0.1:1883, QoS 1), which the
  store's heartbeat subscriber records (as `detector serve` does);
- C concurrent clients (asyncio tasks spread over 2 processes, one viewer token each) loop
  GET /v1/fines?plate=... for `--seconds`.

Printed: throughput, p50/p99 latency and errors of each kind of request, and the store's count of
violations against the bundles sent and of heartbeats against those published (nothing lost, nothing
doubled). The rate limiter is on (every
lookup is a write on the shared bucket rows) with a budget the clients do not exhaust.

    nice -n 10 .venv/bin/python benchmarks/bench_central.py [--boxes 4] [--bundles 25] [--clients 200] \\
        [--seconds 60] [--workers 2] [--heartbeat-s 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests/ (the synthetic bundles), also in the spawned box processes
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def heartbeats(camera: str, prefix: str, every_s: float, stop, out) -> None:  # noqa: ANN001
    """Publish `camera`'s heartbeat every `every_s` (QoS 1) until `stop`; put the publish-to-ack times."""
    import threading
    from datetime import UTC, datetime

    import paho.mqtt.client as mqtt

    from detector.store.heartbeat import Heartbeat, heartbeat_json

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{prefix}-{camera}")
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    lat, errors, n = [], [], 0
    t0 = time.monotonic()
    try:
        while not stop.is_set():
            n += 1
            hb = Heartbeat(
                camera_id=camera,
                at=datetime.now(UTC),
                interval_s=every_s,
                uptime_s=time.monotonic() - t0,
                frames=n * 25,
                fps=25.0,
                dropped=0,
                queue_depth=0,
                latency_p50_ms=30.0,
                latency_p95_ms=60.0,
                disk_free_bytes=10**11,
                outbox_backlog=0,
            )
            t = time.perf_counter()
            info = client.publish(f"{prefix}/{camera}/heartbeat", heartbeat_json(hb), qos=1)
            try:
                info.wait_for_publish(timeout=30)
                lat.append(time.perf_counter() - t)
            except (RuntimeError, ValueError) as exc:
                errors.append(type(exc).__name__)
            threading.Event().wait(every_s)
    finally:
        client.loop_stop()
        client.disconnect()
    out.put(("heartbeat", lat, errors))


def edge_box(i: int, keys: Path, root: Path, n: int, base: str, token: str, start, out, mqtt=None) -> None:  # noqa: ANN001
    from detector.config import EvidenceConfig
    from detector.evidence.keys import load_private_key
    from detector.evidence.writer import BundleWriter
    from detector.store.forwarder import bundle_tar
    from tests.evidence.synthetic import camera_info, models, write_bundles

    writer = BundleWriter(
        root,
        load_private_key(keys),
        camera_info(f"box{i}"),
        models(),
        "c" * 64,
        config=EvidenceConfig(clip_enabled=False),
    )
    tars = [bundle_tar(p) for p in write_bundles(writer, n)]
    start.wait(120)
    beat = None
    if mqtt is not None:  # (prefix, seconds): the box's heartbeats while it pushes its bundles
        import threading

        stop = threading.Event()
        beat = threading.Thread(target=heartbeats, args=(f"box{i}", mqtt[0], mqtt[1], stop, out))
        beat.start()
    lat, errors = [], []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
        for body in tars:
            t = time.perf_counter()
            r = client.post("/v1/ingest", content=body, headers={"Content-Type": "application/x-tar"})
            lat.append(time.perf_counter() - t)
            if r.status_code != 200 or r.json().get("status") != "accepted":
                errors.append(f"{r.status_code} {r.text[:120]}")
    if beat is not None:
        stop.set()
        beat.join(60)
    out.put(("ingest", lat, errors))


def clients(tokens: list[str], base: str, seconds: float, plates: list[str], start, out) -> None:  # noqa: ANN001
    async def one(token: str, client: httpx.AsyncClient, deadline: float, lat: list, errors: list) -> None:
        rng = random.Random(token)
        while time.monotonic() < deadline:
            t = time.perf_counter()
            try:
                r = await client.get(
                    "/v1/fines",
                    params={"plate": rng.choice(plates)},
                    headers={"Authorization": f"Bearer {token}"},
                )
                ok = r.status_code == 200
                detail = str(r.status_code)
            except httpx.HTTPError as exc:
                ok, detail = False, type(exc).__name__
            lat.append(time.perf_counter() - t)
            if not ok:
                errors.append(detail)

    async def run() -> tuple[list[float], list[str]]:
        lat: list[float] = []
        errors: list[str] = []
        limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
            deadline = time.monotonic() + seconds
            await asyncio.gather(*(one(t, client, deadline, lat, errors) for t in tokens))
        return lat, errors

    start.wait(120)
    lat, errors = asyncio.run(run())
    out.put(("lookup", lat, errors))


def main() -> None:  # noqa: PLR0915
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boxes", type=int, default=4)
    ap.add_argument("--bundles", type=int, default=25, help="per box")
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--heartbeat-s", type=float, default=0.1, help="each box's heartbeat period over MQTT (0: none)"
    )
    args = ap.parse_args()

    import psycopg

    from detector.config import load_store_config
    from detector.evidence.keys import PUBLIC_NAME, write_key_pair
    from detector.store.db import Database, upgrade
    from detector.store.services import build_services

    tmp = Path(tempfile.mkdtemp(prefix="bench_central_"))
    name = f"detector_central_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    server = None
    try:
        trusted = tmp / "trusted"
        trusted.mkdir()
        for i in range(args.boxes):
            write_key_pair(tmp / f"box{i}")
            shutil.copyfile(tmp / f"box{i}" / PUBLIC_NAME, trusted / f"box{i}.pub")
        cfg_path = tmp / "store.yaml"
        cfg_path.write_text(
            yaml.safe_dump(
                {
                    "url": url,
                    "evidence_dir": str(tmp / "evidence"),
                    "quarantine_dir": str(tmp / "quarantine"),
                    "trusted_keys": str(trusted),
                    "lookup_rate_limit": {"capacity": 1_000_000, "refill_per_s": 100_000.0},
                }
            )
        )
        db = Database.from_url(url)
        upgrade(db.engine)
        svc = build_services(load_store_config(cfg_path), db=db)
        ingest_tokens = [
            svc.tokens.create(f"box{i}", "ingest", timedelta(days=1)).secret for i in range(args.boxes)
        ]
        viewer_tokens = [
            svc.tokens.create(f"c{i}", "viewer", timedelta(days=1)).secret for i in range(args.clients)
        ]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "--workers",
                str(args.workers),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
                "detector.api.workers:create",
            ],
            env={**os.environ, "DETECTOR_STORE_CONFIG": str(cfg_path)},
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/docs", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("API server did not start")
            time.sleep(0.5)
        from detector.store.db import utc_now
        from detector.store.heartbeat import HeartbeatService, HeartbeatSubscriber

        prefix = f"bench-central-{uuid.uuid4().hex[:8]}"
        subscriber = None
        if args.heartbeat_s > 0:
            subscriber = HeartbeatSubscriber(HeartbeatService(db, utc_now), "127.0.0.1", 1883, prefix, prefix)
            subscriber.start()
            if not subscriber.subscribed.wait(30):
                raise SystemExit(
                    "the heartbeat subscriber did not subscribe (is Mosquitto on 127.0.0.1:1883?)"
                )
        mqtt_args = (prefix, args.heartbeat_s) if args.heartbeat_s > 0 else None
        ctx = mp.get_context("spawn")
        start, out = ctx.Event(), ctx.Queue()
        plates = ["51F-123.45", "30A-999.99", "60L 909 37", "29C12345"]
        procs = [
            ctx.Process(
                target=edge_box,
                args=(
                    i,
                    tmp / f"box{i}",
                    tmp / f"edge{i}",
                    args.bundles,
                    base,
                    ingest_tokens[i],
                    start,
                    out,
                    mqtt_args,
                ),
            )
            for i in range(args.boxes)
        ]
        half = args.clients // 2
        for chunk in (viewer_tokens[:half], viewer_tokens[half:]):
            procs.append(ctx.Process(target=clients, args=(chunk, base, args.seconds, plates, start, out)))
        for p in procs:
            p.start()
        time.sleep(5)  # the boxes write their bundles before the start
        load0 = os.getloadavg()
        t0 = time.perf_counter()
        start.set()
        expected = len(procs) + (args.boxes if mqtt_args else 0)
        results = [out.get(timeout=args.seconds + 900) for _ in range(expected)]
        wall = time.perf_counter() - t0
        for p in procs:
            p.join(30)
        with db.engine.connect() as conn:
            from sqlalchemy import text

            n, distinct = conn.execute(
                text("SELECT count(*), count(DISTINCT event_id) FROM violations")
            ).one()
            time.sleep(2.0)  # the last heartbeats' deliveries
            beats, beats_distinct = conn.execute(
                text("SELECT count(*), count(DISTINCT (camera_id, at)) FROM camera_heartbeats")
            ).one()
        if subscriber is not None:
            subscriber.close()
        db.dispose()
        sent = args.boxes * args.bundles
        print(
            f"\nmachine: {os.cpu_count()} CPUs; load average {load0} at start, {os.getloadavg()} at end; "
            f"{args.workers} uvicorn workers; wall {wall:.1f} s\n"
        )
        print("| requests | count | per s | p50 ms | p99 ms | errors |")
        print("| --- | --- | --- | --- | --- | --- |")
        for kind in ("ingest", "lookup", "heartbeat"):
            lat = [x for k, ls, _ in results if k == kind for x in ls]
            errs = [e for k, _, es in results if k == kind for e in es]
            if not lat and not errs:
                continue
            span = args.seconds if kind == "lookup" else wall
            print(
                f"| {kind} | {len(lat)} | {len(lat) / span:.1f} | {pct(lat, 50) * 1e3:.0f} | "
                f"{pct(lat, 99) * 1e3:.0f} | {len(errs)} {sorted(set(errs))[:3]} |"
            )
        print(
            f"\nstore: {n} violations, {distinct} distinct event ids, {sent} bundles sent "
            f"({'nothing lost or doubled' if n == distinct == sent else 'MISMATCH'})"
        )
        if mqtt_args:
            published = sum(len(ls) for k, ls, _ in results if k == "heartbeat")
            print(
                f"heartbeats: {published} published and acknowledged, {beats} rows stored, "
                f"{beats_distinct} distinct ({'nothing lost or doubled' if beats == beats_distinct == published else 'MISMATCH'})"
            )
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
