"""PostgreSQL: the violations table partitioned by month of `occurred_at` (a no-op on SQLite).

A central store takes every box's bundles for years; monthly partitions keep each index small, let
old months be detached or archived as a whole, and let a query bounded in time touch only its months.

PostgreSQL requires a partitioned table's primary key and unique constraints to include the
partition key, so:

- `violations` gets PRIMARY KEY (id, occurred_at) and UNIQUE (event_id, occurred_at), with the
  same indexes as before (plate, camera + sequence, status), created on every partition;
- a small unpartitioned table `violation_keys` (id, event_id, occurred_at) keeps id and event_id
  unique across all months; a row trigger fills it on insert (a second event id fails there, as it
  failed on the old unique constraint), refuses a change of id, event_id or occurred_at, and removes
  the key on delete. The foreign keys that pointed at violations(id) (evidence files, fines, the
  forward queue) point at violation_keys(id), so they still hold;
- partitions `violations_pYYYYMM` from the earliest stored month to 12 months after the month of the
  upgrade, and `violations_default` for anything outside. `SELECT violations_add_month('2028-01-01')`
  adds a month ahead of time (run it monthly, e.g. from cron; it refuses if the default partition
  already holds rows of that month).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ADD_MONTH = """
CREATE FUNCTION violations_add_month(month date) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  first date := date_trunc('month', month)::date;
  name text := 'violations_p' || to_char(first, 'YYYYMM');
BEGIN
  IF to_regclass(name) IS NULL THEN
    EXECUTE format('CREATE TABLE %I PARTITION OF violations FOR VALUES FROM (%L) TO (%L)',
                   name, first::timestamptz, (first + interval '1 month')::date::timestamptz);
  END IF;
  RETURN name;
END $$;
"""

_KEEP_KEY = """
CREATE FUNCTION violations_keep_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO violation_keys (id, event_id, occurred_at) VALUES (NEW.id, NEW.event_id, NEW.occurred_at);
    RETURN NEW;
  ELSIF TG_OP = 'UPDATE' THEN
    IF NEW.id <> OLD.id OR NEW.event_id <> OLD.event_id OR NEW.occurred_at <> OLD.occurred_at THEN
      RAISE EXCEPTION 'violations: id, event_id and occurred_at never change (violation %)', OLD.id;
    END IF;
    RETURN NEW;
  END IF;
  DELETE FROM violation_keys WHERE id = OLD.id;
  RETURN OLD;
END $$;
"""

_REPOINT_FKS = """
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT conname, conrelid::regclass AS tbl, pg_get_constraintdef(oid) AS def
           FROM pg_constraint WHERE contype = 'f' AND confrelid = '{src}'::regclass LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.tbl, r.conname);
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', r.tbl, r.conname,
                   regexp_replace(r.def, 'REFERENCES [^(]*\\(', 'REFERENCES {dst}('));
  END LOOP;
END $$;
"""

_INDEXES = (
    ("ix_violations_plate_normalized", "plate_normalized"),
    ("ix_violations_camera_sequence", "camera_id, sequence"),
    ("ix_violations_status", "status"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE TABLE violation_keys (id bigint PRIMARY KEY, event_id varchar(200) NOT NULL UNIQUE, "
        "occurred_at timestamptz NOT NULL)"
    )
    op.execute("INSERT INTO violation_keys SELECT id, event_id, occurred_at FROM violations")
    op.execute(_REPOINT_FKS.format(src="violations", dst="violation_keys"))
    op.execute("ALTER TABLE violations RENAME TO violations_unpartitioned")
    for name, _cols in _INDEXES:
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_old")
    op.execute(
        "CREATE TABLE violations (LIKE violations_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE (occurred_at)"
    )
    op.execute("ALTER TABLE violations ADD CONSTRAINT violations_pkey_month PRIMARY KEY (id, occurred_at)")
    op.execute(
        "ALTER TABLE violations ADD CONSTRAINT uq_violations_event_month UNIQUE (event_id, occurred_at)"
    )
    for name, cols in _INDEXES:
        op.execute(f"CREATE INDEX {name} ON violations ({cols})")
    op.execute(_ADD_MONTH)
    op.execute("CREATE TABLE violations_default PARTITION OF violations DEFAULT")
    op.execute(
        "SELECT violations_add_month(m::date) FROM generate_series("
        "date_trunc('month', LEAST(now(), (SELECT min(occurred_at) FROM violations_unpartitioned))), "
        "date_trunc('month', now()) + interval '12 months', interval '1 month') AS m"
    )
    op.execute("INSERT INTO violations SELECT * FROM violations_unpartitioned")
    op.execute("ALTER SEQUENCE violations_id_seq OWNED BY violations.id")
    op.execute("DROP TABLE violations_unpartitioned")
    op.execute(_KEEP_KEY)
    op.execute(
        "CREATE TRIGGER violations_keep_key BEFORE INSERT OR UPDATE ON violations "
        "FOR EACH ROW EXECUTE FUNCTION violations_keep_key()"
    )
    op.execute(
        "CREATE TRIGGER violations_drop_key AFTER DELETE ON violations FOR EACH ROW EXECUTE FUNCTION violations_keep_key()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER violations_keep_key ON violations")
    op.execute("DROP TRIGGER violations_drop_key ON violations")
    op.execute("DROP FUNCTION violations_keep_key()")
    op.execute("ALTER TABLE violations RENAME TO violations_partitioned")
    for name, _cols in _INDEXES:
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_part")
    op.execute("CREATE TABLE violations (LIKE violations_partitioned INCLUDING DEFAULTS)")
    op.execute("INSERT INTO violations SELECT * FROM violations_partitioned")
    op.execute("ALTER TABLE violations ADD PRIMARY KEY (id)")
    op.execute("ALTER TABLE violations ADD CONSTRAINT violations_event_id_key UNIQUE (event_id)")
    for name, cols in _INDEXES:
        op.execute(f"CREATE INDEX {name} ON violations ({cols})")
    op.execute("ALTER SEQUENCE violations_id_seq OWNED BY violations.id")
    op.execute(_REPOINT_FKS.format(src="violation_keys", dst="violations"))
    op.execute("DROP TABLE violations_partitioned")
    op.execute("DROP FUNCTION violations_add_month(date)")
    op.execute("DROP TABLE violation_keys")
