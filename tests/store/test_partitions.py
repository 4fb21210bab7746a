"""Migration 0005 on PostgreSQL: violations partitioned by month, ids and event ids still unique
across months, the foreign keys still enforced, and the migration reversible with the rows kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from detector.store.db import upgrade
from tests.store.support import Keys, make_store

pytestmark = pytest.mark.postgres

_COPY = (
    "INSERT INTO violations (event_id, camera_id, sequence, manifest_sha256, violation_type, vehicle_class, "
    "occurred_at, location, detecting_unit, measured_json, needs_review, review_hints_json, bundle_dir, status, "
    "ingested_at) SELECT :eid, camera_id, sequence + 100, manifest_sha256, violation_type, vehicle_class, "
    ":at, location, detecting_unit, measured_json, needs_review, review_hints_json, bundle_dir, status, "
    "ingested_at FROM violations ORDER BY id LIMIT 1"
)


def test_partitioned_violations_keep_their_guarantees(
    pg_url: str,
    tmp_path: Path,
    keys: Keys,
    bundles: list[Path],  # noqa: F811
) -> None:
    store = make_store(pg_url, tmp_path, keys)
    results = [store.services.ingest.ingest_path(b, actor="test") for b in bundles]
    assert [r.status for r in results] == ["accepted"] * len(bundles)
    engine = store.db.engine
    with engine.connect() as conn:
        kind = conn.execute(
            text("SELECT relkind FROM pg_class WHERE oid = 'violations'::regclass")
        ).scalar_one()
        assert kind == "p"  # partitioned
        where = conn.execute(
            text(
                "SELECT tableoid::regclass::text, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYYMM') FROM violations"
            )
        ).all()
        assert all(part == f"violations_p{month}" for part, month in where), where
        keys_n = conn.execute(text("SELECT count(*) FROM violation_keys")).scalar_one()
        assert keys_n == len(bundles)
        event_id = conn.execute(text("SELECT event_id FROM violations ORDER BY id LIMIT 1")).scalar_one()

    # the same event id in another month: refused, as the old unique constraint refused it
    with pytest.raises(DBAPIError, match="violation_keys"), engine.begin() as conn:
        conn.execute(text(_COPY), {"eid": event_id, "at": "2027-05-01T00:00:00Z"})
    # a month without a partition of its own lands in the default partition; the id stays unique
    with engine.begin() as conn:
        conn.execute(text(_COPY), {"eid": "e-2031", "at": "2031-03-01T00:00:00Z"})
        part = conn.execute(
            text("SELECT tableoid::regclass::text FROM violations WHERE event_id = 'e-2031'")
        ).scalar()
        assert part == "violations_default"
    # partition key and ids never change
    with pytest.raises(DBAPIError, match="never change"), engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE violations SET occurred_at = occurred_at + interval '1 day' WHERE event_id = 'e-2031'"
            )
        )
    # an evidence file must name a stored violation
    with pytest.raises(DBAPIError, match="foreign key"), engine.begin() as conn:
        conn.execute(
            text("INSERT INTO evidence_files (violation_id, name, sha256, size) VALUES (999999, 'x', 'y', 1)")
        )

    # reversible: down to 0004 (one table again) and back, rows kept
    upgrade_down(engine)
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT relkind FROM pg_class WHERE oid = 'violations'::regclass")).scalar_one()
            == "r"
        )
        assert conn.execute(text("SELECT count(*) FROM violations")).scalar_one() == len(bundles) + 1
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM violations")).scalar_one() == len(bundles) + 1
        assert conn.execute(text("SELECT count(*) FROM violation_keys")).scalar_one() == len(bundles) + 1
    store.services.close()


def upgrade_down(engine) -> None:  # noqa: ANN001
    from alembic import command

    from detector.store.db import _alembic_config

    cfg = _alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
