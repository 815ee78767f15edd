"""task claims

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 16:40:00.000000

task_claims: one row per periodic task every API process runs on a timer (the lease expiry), claimed for one
period by one process, as alert rules are claimed (claimed_by, claim_until): the others skip until it ends.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_claims",
        sa.Column("task", sa.String(64), primary_key=True),
        sa.Column("claimed_by", sa.String(255), nullable=False),
        sa.Column("claim_until", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("task_claims")
