"""job list indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 14:00:00.000000

The job list filtered by job type (job_type_id, job_type_name, job_type) in its default order, last_modified
then id, optionally within a started/ended window on last_modified: with (job_type_id, last_modified, id) the
page and its count are index range scans instead of a sort over every job of the type. It replaces the
single-column ix_jobs_job_type_id, which is its prefix.

(source_sensor_class, source_collection): the list and its exact count filtered by a sensor class within a
collection. With one index per column, PostgreSQL ANDs two bitmaps and then visits every matching heap page to
count (5,950 of 1,000,000 jobs: 5,436 pages, ~15 ms); this index counts them from the index alone. Other
combinations of source filters still AND the single-column indexes.

On a SQLite database that has planner statistics (someone ran ANALYZE), the new index gets its own, as does
0002's ix_jobs_duration: without them SQLite guesses the new index is selective and may read all jobs
through it. A database never analyzed is left so.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_job_type_last_modified", "jobs", ["job_type_id", "last_modified", "id"], unique=False)
    op.drop_index("ix_jobs_job_type_id", table_name="jobs")
    op.create_index(
        "ix_jobs_source_class_collection", "jobs", ["source_sensor_class", "source_collection"], unique=False
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and sa.inspect(bind).has_table("sqlite_stat1"):
        op.execute("ANALYZE ix_jobs_job_type_last_modified")
        op.execute("ANALYZE ix_jobs_duration")
        op.execute("ANALYZE ix_jobs_source_class_collection")


def downgrade() -> None:
    op.drop_index("ix_jobs_source_class_collection", table_name="jobs")
    op.create_index("ix_jobs_job_type_id", "jobs", ["job_type_id"], unique=False)
    op.drop_index("ix_jobs_job_type_last_modified", table_name="jobs")
