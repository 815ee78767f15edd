"""execution ended index

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 21:00:00.000000

ix_job_executions_ended: GET /v6/status/ reports, per node, the executions that ended in the last three hours
(Scale's window), and Scale's UI polls it every five seconds from every open page. With the index that read is a
range scan of the recent executions; without it, a scan of every execution ever run.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_job_executions_ended", "job_executions", ["ended"], unique=False)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and sa.inspect(bind).has_table("sqlite_stat1"):
        op.execute("ANALYZE ix_job_executions_ended")


def downgrade() -> None:
    op.drop_index("ix_job_executions_ended", table_name="job_executions")
