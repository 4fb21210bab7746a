"""Key registry (which key may sign for which cameras, when), the key of each camera's chain head,
and the size and pruning time of quarantined uploads (retention and size cap).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("public_key_b64", sa.String(64), nullable=False),
        sa.Column("cameras_json", sa.Text, nullable=False),
        sa.Column("valid_from", TS),
        sa.Column("valid_to", TS),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Column("added_at", TS, nullable=False),
        sa.Column("added_by", sa.String(100), nullable=False),
    )
    with op.batch_alter_table("camera_chain") as batch:
        batch.add_column(sa.Column("key_id", sa.String(16)))
    with op.batch_alter_table("quarantine") as batch:
        batch.add_column(sa.Column("size_bytes", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("pruned_at", TS))


def downgrade() -> None:
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_column("pruned_at")
        batch.drop_column("size_bytes")
    with op.batch_alter_table("camera_chain") as batch:
        batch.drop_column("key_id")
    op.drop_table("signing_keys")
