"""last status change index

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 09:05:00.000000

ix_jobs_last_status_change: GET /v6/job-types/status/ (the dashboard of Scale's UI) counts, per job type, the jobs
whose status changed within a window (Scale's default: the last three hours). With the index that count is a
range scan of the jobs that changed in the window; without it, a scan of every job.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_last_status_change", "jobs", ["last_status_change"], unique=False)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and sa.inspect(bind).has_table("sqlite_stat1"):
        op.execute("ANALYZE ix_jobs_last_status_change")


def downgrade() -> None:
    op.drop_index("ix_jobs_last_status_change", table_name="jobs")
