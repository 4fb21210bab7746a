"""The numbered Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import re
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from detector.store.db import HEAD_REVISION, Database, current_revision, upgrade
from detector.store.models import Base


def test_migrations_match_models(db_url: str) -> None:
    db = Database.from_url(db_url)
    assert current_revision(db.engine) is None
    upgrade(db.engine)
    upgrade(db.engine)  # idempotent
    assert current_revision(db.engine) == HEAD_REVISION
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": _not_a_partition})
        diffs = compare_metadata(ctx, Base.metadata)
    db.dispose()
    if db.dialect == "postgresql":
        diffs = [d for d in diffs if not _partitioning_difference(d)]
    assert diffs == [], diffs


_PARTITION_TABLE = re.compile(r"^violations_(p\d{6}|default)$|^violation_keys$")


def _not_a_partition(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
    """Migration 0005 (PostgreSQL): the monthly partitions and the key table are not models."""
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return not (table is not None and _PARTITION_TABLE.match(table.name or ""))


def _partitioning_difference(diff: tuple[Any, ...]) -> bool:
    """The two differences partitioning forces on PostgreSQL (0005 explains them): event_id is
    unique per month in `violations` (and globally in `violation_keys`), and the foreign keys to a
    violation reference `violation_keys(id)`."""
    kind, obj = diff[0], diff[1]
    if kind in ("add_constraint", "remove_constraint") and getattr(obj, "table", None) is not None:
        cols = sorted(c.name for c in obj.columns)
        return obj.table.name == "violations" and cols in (["event_id"], ["event_id", "occurred_at"])
    if kind in ("add_fk", "remove_fk"):
        return obj.referred_table.name in ("violations", "violation_keys")
    return False


def test_store_and_api_do_not_import_vision_stages() -> None:
    import subprocess
    import sys

    code = (
        "import sys, detector.store.services, detector.api.app, detector.store.outbox, detector.store.forwarder;"
        "print(sorted(m for m in ('cv2', 'onnxruntime', 'detector.evidence.writer') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
