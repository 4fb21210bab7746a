"""Helpers of the store/API/MQTT tests (their fixtures are in tests/conftest.py).

Real backends: SQLite in a temp file; PostgreSQL at 127.0.0.1:5432 in a database created for this
test session (one schema per test inside it) and dropped at the end; bundles written by the
evidence module's BundleWriter and signed with a real Ed25519 key.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from detector.config import EvidenceConfig, StoreConfig
from detector.evidence.keys import Ed25519Signer
from detector.evidence.writer import BundleWriter
from detector.store.db import Database, upgrade
from detector.store.ingest import IngestResult
from detector.store.services import StoreServices, build_services
from tests.evidence.synthetic import camera_info, models, write_bundles

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


class FakeClock:
    """Aware UTC time that only moves when a test says so."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def accepted_id(result: IngestResult) -> int:
    """The id of the violation a bundle's ingest created (failing the test if it was not accepted)."""
    assert result.status == "accepted" and result.violation_id is not None, (result.status, result.reason)
    return result.violation_id


@dataclass
class Keys:
    signer: Ed25519Signer
    trusted_dir: Path
    other_signer: Ed25519Signer


def make_bundles(root: Path, signer: Ed25519Signer, n: int, camera_id: str = "cam1") -> list[Path]:
    """`n` chained, signed bundles of one camera, written by the evidence module's BundleWriter."""
    writer = BundleWriter(
        root, signer, camera_info(camera_id), models(), "c" * 64, config=EvidenceConfig(clip_enabled=False)
    )
    return write_bundles(writer, n)


# ------------------------------------------------------------------ PostgreSQL
def pg_connect(dsn: str):  # noqa: ANN202
    import psycopg

    return psycopg.connect(dsn, autocommit=True, connect_timeout=3)


@dataclass
class Store:
    services: StoreServices
    clock: FakeClock
    config: StoreConfig
    tmp: Path

    @property
    def db(self) -> Database:
        return self.services.db


def make_store(url: str, tmp: Path, keys: Keys, **overrides: Any) -> Store:
    cfg = StoreConfig(
        url=url,
        evidence_dir=str(tmp / "evidence"),
        quarantine_dir=str(tmp / "quarantine"),
        trusted_keys=str(keys.trusted_dir),
        **overrides,
    )
    db = Database.from_url(url)
    upgrade(db.engine)
    clock = FakeClock()
    return Store(build_services(cfg, clock=clock, db=db), clock, cfg, tmp)


# ------------------------------------------------------------------ MQTT
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen(
            [exe, "-p", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # readiness wait, not an assertion on time
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


class Subscriber:
    def __init__(self, port: int, topic: str) -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, dict]] = []
        self._got = threading.Condition()
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"sub-{port}")
        self.client.on_subscribe = lambda *a: subscribed.set()

        def on_message(_c, _u, msg) -> None:  # noqa: ANN001
            with self._got:
                self.messages.append((msg.topic, json.loads(msg.payload)))
                self._got.notify_all()

        self.client.on_message = on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(topic, qos=1)
        assert subscribed.wait(10), "no SUBACK"

    def wait_for(self, n: int) -> list[tuple[str, dict]]:
        with self._got:
            self._got.wait_for(lambda: len(self.messages) >= n, timeout=15)
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
