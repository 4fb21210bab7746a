"""Network side (issue 18): notices and their life, the inspection-registry stand-in, hotlists and
hotlist alerts, traffic statistics.

Revision ID: 0004
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)
STATES = (
    "opened",
    "owner_unknown",
    "routed",
    "notified",
    "acknowledged",
    "published",
    "flagged",
    "closed",
    "cancelled",
    "expired",
)


def _id() -> sa.Column:
    return sa.Column("id", BigId, primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "notices",
        _id(),
        sa.Column("fine_id", BigId, sa.ForeignKey("fines.id"), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decision_no", sa.String(64), unique=True),
        sa.Column("payment_ref", sa.String(64), nullable=False, unique=True),
        sa.Column("plate_normalized", sa.String(32), nullable=False),
        sa.Column("owner_name", sa.Text),
        sa.Column("owner_address", sa.Text),
        sa.Column("owner_district", sa.String(100)),
        sa.Column("owner_province", sa.String(100)),
        sa.Column("unit_code", sa.String(32)),
        sa.Column("unit_name", sa.Text),
        sa.Column("unit_address", sa.Text),
        sa.Column("detected_at", TS, nullable=False),
        sa.Column("notify_deadline", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("notified_at", TS),
        sa.Column("notice_file", sa.Text),
        sa.Column("notice_sha256", sa.String(64)),
        sa.Column("publish_due_at", TS),
        sa.Column("published_at", TS),
        sa.Column("acknowledged_at", TS),
        sa.Column("closed_at", TS),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("state IN (" + ", ".join(f"'{s}'" for s in STATES) + ")", name="ck_notices_state"),
    )
    op.create_index("ix_notices_state", "notices", ["state"])
    op.create_index("ix_notices_plate_normalized", "notices", ["plate_normalized"])
    op.create_table(
        "inspection_flags",
        _id(),
        sa.Column("plate_normalized", sa.String(32), nullable=False),
        sa.Column("notice_id", BigId, sa.ForeignKey("notices.id"), nullable=False, unique=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("flagged_at", TS, nullable=False),
        sa.Column("cleared_at", TS),
    )
    op.create_index("ix_inspection_flags_plate", "inspection_flags", ["plate_normalized"])
    op.create_table(
        "hotlist",
        _id(),
        sa.Column("plate_normalized", sa.String(32), nullable=False),
        sa.Column("plate_text", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("added_at", TS, nullable=False),
    )
    op.create_index("ix_hotlist_plate", "hotlist", ["plate_normalized"])
    op.create_table(
        "hotlist_alerts",
        _id(),
        sa.Column("alert_key", sa.String(200), nullable=False, unique=True),
        sa.Column("hotlist_id", BigId, sa.ForeignKey("hotlist.id"), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("track_id", sa.Integer, nullable=False),
        sa.Column("seen_at", TS, nullable=False),
        sa.Column("plate_read", sa.String(32), nullable=False),
        sa.Column("match_kind", sa.String(16), nullable=False),
        sa.Column("match_detail", sa.Text, nullable=False),
        sa.Column("picture", sa.Text),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "traffic_stats",
        _id(),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("interval_start", TS, nullable=False),
        sa.Column("interval_s", sa.Float, nullable=False),
        sa.Column("lane_id", sa.String(64), nullable=False),
        sa.Column("vehicle_class", sa.String(32), nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("speed_median_kmh", sa.Float),
        sa.Column("speed_p85_kmh", sa.Float),
        sa.Column("occupancy", sa.Float),
        sa.Column("queue_max_m", sa.Float),
        sa.Column("congestion", sa.String(16)),
    )
    op.create_index("ix_traffic_stats_camera_start", "traffic_stats", ["camera_id", "interval_start"])


def downgrade() -> None:
    for table in ("traffic_stats", "hotlist_alerts", "hotlist", "inspection_flags", "notices"):
        op.drop_table(table)
