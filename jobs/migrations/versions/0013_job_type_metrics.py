"""job type metrics

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 09:30:00.000000

job_type_metrics: per job type and hour, the jobs that ended COMPLETED or FAILED (by error category) and the queue
and run times of the executions that ended them, so /v6/metrics/job-types/plot-data/ (Scale's Job Type History
and Data -> Metrics pages) reads a few aggregate rows instead of every job. jobs/scaleui/metrics_store.py adds to
it in the transaction that ends a job; this migration fills it from the jobs that ended before it existed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# The hour a job ended, and an interval in seconds, in each dialect. SQLite keeps datetimes as text in
# SQLAlchemy's format (microseconds always written), so the hour is written the same way for lookups to match.
HOUR = {"postgresql": "date_trunc('hour', j.ended)", "sqlite": "strftime('%Y-%m-%d %H:00:00.000000', j.ended)"}
SECONDS = {
    "postgresql": "EXTRACT(EPOCH FROM ({end} - {start}))",
    "sqlite": "((julianday({end}) - julianday({start})) * 86400.0)",
}
BACKFILL = """
INSERT INTO job_type_metrics (job_type_id, occurred, completed_count, failed_count, error_system_count,
    error_data_count, error_algorithm_count, queue_count, queue_time_sum, queue_time_min, queue_time_max,
    run_count, run_time_sum, run_time_min, run_time_max)
SELECT job_type_id, occurred,
    sum(CASE WHEN status = 'COMPLETED' THEN 1 ELSE 0 END),
    sum(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END),
    sum(CASE WHEN status = 'FAILED' AND category = 'SYSTEM' THEN 1 ELSE 0 END),
    sum(CASE WHEN status = 'FAILED' AND category = 'DATA' THEN 1 ELSE 0 END),
    sum(CASE WHEN status = 'FAILED' AND category = 'ALGORITHM' THEN 1 ELSE 0 END),
    count(queue_seconds), coalesce(sum(queue_seconds), 0), min(queue_seconds), max(queue_seconds),
    count(run_seconds), coalesce(sum(run_seconds), 0), min(run_seconds), max(run_seconds)
FROM (
    SELECT j.job_type_id, {hour} AS occurred, j.status, e.category,
        {queue} AS queue_seconds, {run} AS run_seconds
    FROM jobs j
    LEFT JOIN errors e ON e.id = j.error_id
    LEFT JOIN job_executions x ON x.job_id = j.id AND x.exe_num = j.num_exes
    WHERE j.status IN ('COMPLETED', 'FAILED') AND j.ended IS NOT NULL
) AS ended_jobs
GROUP BY job_type_id, occurred
"""


def upgrade() -> None:
    op.create_table(
        "job_type_metrics",
        sa.Column("id", ID, nullable=False),
        sa.Column("job_type_id", ID, nullable=False),
        sa.Column("occurred", sa.DateTime(timezone=True), nullable=False),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in (
                "completed_count",
                "failed_count",
                "error_system_count",
                "error_data_count",
                "error_algorithm_count",
                "queue_count",
            )
        ),
        sa.Column("queue_time_sum", sa.Float(), nullable=False),
        sa.Column("queue_time_min", sa.Float(), nullable=True),
        sa.Column("queue_time_max", sa.Float(), nullable=True),
        sa.Column("run_count", sa.Integer(), nullable=False),
        sa.Column("run_time_sum", sa.Float(), nullable=False),
        sa.Column("run_time_min", sa.Float(), nullable=True),
        sa.Column("run_time_max", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["job_type_id"], ["job_types.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_type_id", "occurred"),
    )
    op.create_index("ix_job_type_metrics_occurred", "job_type_metrics", ["occurred", "job_type_id"], unique=False)
    dialect = op.get_bind().dialect.name
    seconds = SECONDS[dialect]
    op.execute(
        BACKFILL.format(
            hour=HOUR[dialect],
            queue=seconds.format(start="x.queued", end="x.started"),
            run=seconds.format(start="x.started", end="x.ended"),
        )
    )


def downgrade() -> None:
    op.drop_index("ix_job_type_metrics_occurred", table_name="job_type_metrics")
    op.drop_table("job_type_metrics")
