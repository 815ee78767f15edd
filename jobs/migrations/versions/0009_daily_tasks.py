"""daily tasks

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 22:00:00.000000

daily_tasks: one row per (task, UTC day) claimed by a process of the fleet, so a task every API process runs
on a timer (the log retention prune) runs once a day for the whole fleet: the first INSERT wins, the others
hit the primary key and skip.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_tasks",
        sa.Column("task", sa.String(64), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("daily_tasks")
