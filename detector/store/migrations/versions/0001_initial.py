"""First schema: violations, evidence files, fines/notices, payments, audit log (append-only),
quarantine, MQTT outbox, forward queue, API tokens, camera chain heads.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def _id() -> sa.Column:
    return sa.Column("id", BigId, primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "camera_chain",
        sa.Column("camera_id", sa.String(64), primary_key=True),
        sa.Column("last_sequence", sa.BigInteger, nullable=False),
        sa.Column("last_manifest_sha256", sa.String(64), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "violations",
        _id(),
        sa.Column("event_id", sa.String(200), nullable=False, unique=True),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("violation_type", sa.String(32), nullable=False),
        sa.Column("vehicle_class", sa.String(32), nullable=False),
        sa.Column("plate_text", sa.String(32)),
        sa.Column("plate_normalized", sa.String(32)),
        sa.Column("plate_colour", sa.String(32)),
        sa.Column("plate_confidence", sa.Float),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("detecting_unit", sa.Text, nullable=False),
        sa.Column("measured_json", sa.Text, nullable=False),
        sa.Column("needs_review", sa.Boolean, nullable=False),
        sa.Column("review_hints_json", sa.Text, nullable=False),
        sa.Column("bundle_dir", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("review_reason", sa.Text),
        sa.Column("reviewed_by", sa.String(100)),
        sa.Column("reviewed_at", TS),
        sa.Column("ingested_at", TS, nullable=False),
    )
    op.create_index("ix_violations_plate_normalized", "violations", ["plate_normalized"])
    op.create_index("ix_violations_camera_sequence", "violations", ["camera_id", "sequence"])
    op.create_index("ix_violations_status", "violations", ["status"])
    op.create_table(
        "evidence_files",
        _id(),
        sa.Column("violation_id", BigId, sa.ForeignKey("violations.id"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("violation_id", "name", name="uq_evidence_files_violation_name"),
    )
    op.create_table(
        "fines",
        _id(),
        sa.Column("violation_id", BigId, sa.ForeignKey("violations.id"), nullable=False, unique=True),
        sa.Column("notice_no", sa.String(64), nullable=False, unique=True),
        sa.Column("plate_text", sa.String(32), nullable=False),
        sa.Column("plate_normalized", sa.String(32), nullable=False),
        sa.Column("plate_colour", sa.String(32)),
        sa.Column("vehicle_type", sa.String(64), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("place", sa.Text, nullable=False),
        sa.Column("violation_text", sa.Text, nullable=False),
        sa.Column("legal_basis", sa.Text, nullable=False),
        sa.Column("detecting_unit", sa.Text, nullable=False),
        sa.Column("amount_min_vnd", sa.BigInteger, nullable=False),
        sa.Column("amount_max_vnd", sa.BigInteger, nullable=False),
        sa.Column("amount_due_vnd", sa.BigInteger, nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.CheckConstraint("status IN ('unpaid', 'paid', 'cancelled')", name="ck_fines_status"),
        sa.CheckConstraint("amount_min_vnd <= amount_max_vnd", name="ck_fines_range"),
    )
    op.create_index("ix_fines_plate_normalized", "fines", ["plate_normalized"])
    op.create_table(
        "payments",
        _id(),
        sa.Column("fine_id", BigId, sa.ForeignKey("fines.id"), nullable=False, unique=True),
        sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
        sa.Column("amount_vnd", sa.BigInteger, nullable=False),
        sa.Column("receipt_no", sa.String(64), nullable=False, unique=True),
        sa.Column("paid_by", sa.String(100), nullable=False),
        sa.Column("paid_at", TS, nullable=False),
    )
    op.create_table(
        "audit_log",
        _id(),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(200), nullable=False),
        sa.Column("before_json", sa.Text),
        sa.Column("after_json", sa.Text),
    )
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"])
    op.create_table(
        "quarantine",
        _id(),
        sa.Column("at", TS, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("event_id", sa.String(200)),
        sa.Column("camera_id", sa.String(64)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
    )
    op.create_table(
        "outbox",
        _id(),
        sa.Column("message_id", sa.String(64), nullable=False, unique=True),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS),
        sa.Column("attempts", sa.Integer, nullable=False),
    )
    op.create_index("ix_outbox_pending", "outbox", ["sent_at", "id"])
    op.create_table(
        "forward_queue",
        _id(),
        sa.Column("violation_id", BigId, sa.ForeignKey("violations.id"), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("forwarded_at", TS),
        sa.Column("remote_status", sa.String(32)),
    )
    op.create_index("ix_forward_queue_due", "forward_queue", ["state", "next_attempt_at"])
    op.create_table(
        "api_tokens",
        _id(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
    )
    _audit_append_only()


def _audit_append_only() -> None:
    """UPDATE, DELETE (and TRUNCATE on PostgreSQL) of audit_log raise an error."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_log is append-only: % rejected', TG_OP;
            END
            $$;
            """
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
    elif dialect == "sqlite":
        op.execute(
            "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE rejected'); END"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE rejected'); END"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update_delete ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for table in (
        "api_tokens",
        "forward_queue",
        "outbox",
        "quarantine",
        "audit_log",
        "payments",
        "fines",
        "evidence_files",
        "violations",
        "camera_chain",
    ):
        op.drop_table(table)
