"""Fixtures of the store/API/MQTT tests (imported by test_store_*, test_api_*, test_mqtt_*).

Real backends: SQLite in a temp file; PostgreSQL at 127.0.0.1:5432 in a database created for this
test session (one schema per test inside it) and dropped at the end; bundles written by the
evidence module's BundleWriter and signed with a real Ed25519 key.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detector.evidence.config import EvidenceConfig
from detector.evidence.keys import Ed25519Signer, load_private_key, write_key_pair
from detector.evidence.synthetic import camera_info, models, write_bundles
from detector.evidence.writer import BundleWriter
from detector.store.config import StoreConfig
from detector.store.db import Database, upgrade
from detector.store.services import StoreServices, build_services

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


@dataclass
class Keys:
    signer: Ed25519Signer
    trusted_dir: Path
    other_signer: Ed25519Signer


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    d = tmp_path_factory.mktemp("keys")
    kp = write_key_pair(d / "edge")
    trusted = d / "trusted"
    trusted.mkdir()
    (trusted / "edge.pub").write_bytes(kp.public.read_bytes())
    return Keys(load_private_key(d / "edge"), trusted, Ed25519Signer.generate())


def make_bundles(root: Path, signer: Ed25519Signer, n: int, camera_id: str = "cam1") -> list[Path]:
    """`n` chained, signed bundles of one camera, written by the evidence module's BundleWriter."""
    writer = BundleWriter(
        root, signer, camera_info(camera_id), models(), "c" * 64, config=EvidenceConfig(clip_enabled=False)
    )
    return write_bundles(writer, n)


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> list[Path]:
    """Four bundles of cam1 (the store copies them; tests that tamper make their own copy)."""
    return make_bundles(tmp_path_factory.mktemp("edge"), keys.signer, 4)


# ------------------------------------------------------------------ PostgreSQL
def _pg_connect(dsn: str):  # noqa: ANN202
    import psycopg

    return psycopg.connect(dsn, autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh database for this session; dropped afterwards."""
    import psycopg

    try:
        admin = _pg_connect(PG_ADMIN)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is unreachable: {exc}")
    name = f"detector_store_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture()
def pg_url(pg_database: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema (one per test) in the session database."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = _pg_connect(f"host=127.0.0.1 port=5432 user=postgres dbname={pg_database}")
    conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_database}?options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")


@dataclass
class Store:
    services: StoreServices
    clock: FakeClock
    config: StoreConfig
    tmp: Path

    @property
    def db(self) -> Database:
        return self.services.db


def make_store(url: str, tmp: Path, keys: Keys, **overrides: object) -> Store:
    cfg = StoreConfig(
        url=url,
        evidence_dir=str(tmp / "evidence"),
        quarantine_dir=str(tmp / "quarantine"),
        trusted_keys=str(keys.trusted_dir),
        **overrides,
    )  # type: ignore[arg-type]
    db = Database.from_url(url)
    upgrade(db.engine)
    clock = FakeClock()
    return Store(build_services(cfg, clock=clock, db=db), clock, cfg, tmp)


@pytest.fixture()
def store(db_url: str, tmp_path: Path, keys: Keys) -> Iterator[Store]:
    s = make_store(db_url, tmp_path, keys)
    yield s
    s.services.close()
