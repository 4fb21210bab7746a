"""Shared fixtures: where the real data lives, one detector per test session, and the store's
signing keys, bundles and databases (SQLite in a temp file per test; PostgreSQL at 127.0.0.1:5432 in
one database for the whole session, one schema per test, dropped at the end).

Fixtures live here (and in each folder's conftest.py), never in modules the tests import: a session
fixture imported into a module is a new fixture there, set up again for every importing module.
Plain helpers (classes, `make_*` functions) are in the folders' `support.py` modules.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from detector.detect.onnx import OnnxYoloDetector
    from tests.store.support import Broker, Keys, Store

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
# Every test in these folders replays whole clips or streams in real time: marked slow, so that
# `pytest -m "not slow"` is the quick loop (a few other tests carry the mark themselves).
SLOW_FOLDERS = ("e2e", "bench")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(tests) and item.path.relative_to(tests).parts[0] in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)


def shared_path(*parts: str) -> Path:
    """A file or folder in ../shared/data; the test skips with the reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} (../shared/data is absent on this machine)")
    return path


def sample_violation_types() -> list[str]:
    """The sample scene's ground-truth violation types, sorted (what a whole replay of it must report)."""
    from detector.sample.groundtruth import load_ground_truth

    truth = load_ground_truth(REPO / "sample_videos" / "ground_truth.json")
    return sorted(x.type for _, x in truth.violations())


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def yolo_detector() -> Iterator[OnnxYoloDetector]:
    """The real YOLO11n detector through onnxruntime, loaded once."""
    from detector.config import DetectorConfig
    from detector.detect.onnx import OnnxYoloDetector

    det = OnnxYoloDetector(DetectorConfig())
    yield det
    det.close()


# ------------------------------------------------------------------ store: keys and bundles
@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """The edge's signing key (its public half trusted by the store) and a key nobody trusts."""
    from detector.evidence.keys import Ed25519Signer, load_private_key, write_key_pair
    from tests.store.support import Keys

    d = tmp_path_factory.mktemp("keys")
    kp = write_key_pair(d / "edge")
    trusted = d / "trusted"
    trusted.mkdir()
    (trusted / "edge.pub").write_bytes(kp.public.read_bytes())
    return Keys(load_private_key(d / "edge"), trusted, Ed25519Signer.generate())


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> list[Path]:
    """Four bundles of cam1 (the store copies them; tests that tamper make their own copy)."""
    from tests.store.support import make_bundles

    return make_bundles(tmp_path_factory.mktemp("edge"), keys.signer, 4)


# ------------------------------------------------------------------ store: databases
@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this session; dropped afterwards."""
    import psycopg

    from tests.store.support import PG_ADMIN, pg_connect

    try:
        admin = pg_connect(PG_ADMIN)
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
    from tests.store.support import pg_connect

    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = pg_connect(f"host=127.0.0.1 port=5432 user=postgres dbname={pg_database}")
    conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_database}?options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that takes it runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture()
def store(db_url: str, tmp_path: Path, keys: Keys) -> Iterator[Store]:
    """A migrated store on `db_url` with a hand-driven clock, trusting the edge key of `keys`."""
    from tests.store.support import make_store

    s = make_store(db_url, tmp_path, keys)
    yield s
    s.services.close()


# ------------------------------------------------------------------ MQTT
@pytest.fixture()
def broker() -> Iterator[Broker]:
    """A Mosquitto of our own on a free port (not started: the test starts and stops it)."""
    from tests.store.support import Broker, free_port

    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        pytest.skip("mosquitto binary not installed")
    b = Broker(free_port())
    yield b
    b.stop()
