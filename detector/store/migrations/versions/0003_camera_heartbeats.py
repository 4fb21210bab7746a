"""Edge health: cameras' heartbeats (history) and their current MQTT status.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "camera_heartbeats",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("frames", sa.BigInteger, nullable=False),
        sa.Column("fps", sa.Float, nullable=False),
        sa.Column("dropped", sa.BigInteger, nullable=False),
        sa.Column("queue_depth", sa.Integer, nullable=False),
        sa.Column("latency_p95_ms", sa.Float, nullable=False),
        sa.Column("disk_free_bytes", sa.BigInteger, nullable=False),
        sa.Column("outbox_backlog", sa.BigInteger, nullable=False),
        sa.Column("payload_json", sa.Text, nullable=False),
    )
    op.create_index("ix_camera_heartbeats_camera_at", "camera_heartbeats", ["camera_id", "received_at"])
    op.create_table(
        "camera_health",
        sa.Column("camera_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_at", TS, nullable=False),
        sa.Column("last_heartbeat_id", sa.BigInteger),
    )


def downgrade() -> None:
    op.drop_table("camera_health")
    op.drop_index("ix_camera_heartbeats_camera_at", table_name="camera_heartbeats")
    op.drop_table("camera_heartbeats")
