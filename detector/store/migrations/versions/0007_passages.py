"""Section passages as signed bundles (issue 18): a camera's timing-line passages, ingested through
the same verification and hash chain as violations, and the stored violation a section violation
becomes (its id on the section row).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "passages",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(200), nullable=False, unique=True),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("section_id", sa.String(64)),
        sa.Column("track_id", sa.BigInteger, nullable=False),
        sa.Column("crossed_at", TS, nullable=False),
        sa.Column("clock_uncertainty_s", sa.Float, nullable=False),
        sa.Column("timing_uncertainty_s", sa.Float, nullable=False),
        sa.Column("vehicle_class", sa.String(32), nullable=False),
        sa.Column("plate_text", sa.String(32)),
        sa.Column("plate_normalized", sa.String(32)),
        sa.Column("candidates_json", sa.Text, nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("bundle_dir", sa.String(200), nullable=False),
        sa.Column("ingested_at", TS, nullable=False),
    )
    op.create_index("ix_passages_camera_crossed", "passages", ["camera_id", "crossed_at"])
    with op.batch_alter_table("section_violations") as b:
        b.add_column(sa.Column("violation_id", sa.BigInteger))
    # an edge box forwards its passages too: they share the camera's hash chain with its violations,
    # so the central store would refuse the next violation (chain_gap) without them
    with op.batch_alter_table("forward_queue") as b:
        b.alter_column("violation_id", existing_type=BigId, nullable=True)
        b.add_column(sa.Column("passage_id", BigId, nullable=True))
        b.create_foreign_key("fk_forward_queue_passage_id", "passages", ["passage_id"], ["id"])
        b.create_unique_constraint("uq_forward_queue_passage_id", ["passage_id"])


def downgrade() -> None:
    op.execute("DELETE FROM forward_queue WHERE passage_id IS NOT NULL")
    with op.batch_alter_table("forward_queue") as b:
        b.drop_constraint("uq_forward_queue_passage_id", type_="unique")
        b.drop_constraint("fk_forward_queue_passage_id", type_="foreignkey")
        b.drop_column("passage_id")
        b.alter_column("violation_id", existing_type=BigId, nullable=False)
    with op.batch_alter_table("section_violations") as b:
        b.drop_column("violation_id")
    op.drop_index("ix_passages_camera_crossed", table_name="passages")
    op.drop_table("passages")
