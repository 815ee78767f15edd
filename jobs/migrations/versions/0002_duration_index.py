"""duration index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 12:00:00.000000

An expression index for the job list's `order=duration` / `order=-duration` (jobs/orderings.py). Its keys are
exactly that ORDER BY for `-duration`: duration descending with NULLs first (as PostgreSQL sorts them), then
id. `-duration` reads it forwards; `duration` reads it backwards (ascending, NULLs last) and only re-sorts jobs
of equal duration by id, as the id tie-breaker ascends in both orders. SQLite can't index NULLS FIRST/LAST, so
there the NULL placement is a leading `IS NULL` key, as orderings.py orders it on SQLite.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Must stay the expression of jobs.orderings.duration(): the planners use the index only for that expression.
DURATION = {
    "postgresql": "(ended - started)",
    "sqlite": "(julianday(ended) - julianday(started))",
}


def keys(dialect: str) -> list[sa.TextClause]:
    duration = DURATION[dialect]
    if dialect == "postgresql":
        return [sa.text(f"{duration} DESC NULLS FIRST"), sa.text("id")]
    return [sa.text(f"({duration} IS NULL) DESC"), sa.text(f"{duration} DESC"), sa.text("id")]


def upgrade() -> None:
    op.create_index("ix_jobs_duration", "jobs", keys(op.get_bind().dialect.name), unique=False)


def downgrade() -> None:
    op.drop_index("ix_jobs_duration", table_name="jobs")
