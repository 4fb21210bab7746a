"""The numbered Alembic migrations build exactly the schema the models describe, on both backends."""

# ruff: noqa: F811  (pytest fixtures are imported from the support modules by name)
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from test_store_support import db_url, pg_database, pg_url  # noqa: F401

from detector.store.db import HEAD_REVISION, Database, current_revision, upgrade
from detector.store.models import Base


def test_migrations_match_models(db_url: str) -> None:
    db = Database.from_url(db_url)
    assert current_revision(db.engine) is None
    upgrade(db.engine)
    upgrade(db.engine)  # idempotent
    assert current_revision(db.engine) == HEAD_REVISION
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    db.dispose()
    assert diffs == [], diffs


def test_store_and_api_do_not_import_vision_stages() -> None:
    import subprocess
    import sys

    code = (
        "import sys, detector.store.services, detector.api.app, detector.store.outbox, detector.store.forwarder;"
        "print(sorted(m for m in ('cv2', 'onnxruntime', 'detector.evidence.writer') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
