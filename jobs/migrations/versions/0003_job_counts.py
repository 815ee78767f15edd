"""job counts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 09:00:00.000000

Exact job counts per (job_type_id, status), kept by the database itself so the job list can answer its common
counts (no filter, status, job type) without count(*) over every job (jobs/counts.py reads them).

`job_counts` holds DELTAS: the number of jobs of a (job_type_id, status) is sum(n) over its rows. Triggers on
jobs only ever INSERT deltas, so concurrent writers never wait on each other's counter rows (no row to lock,
no deadlock), and every write to jobs is counted whoever makes it: the ORM, Core executemany, raw SQL.
- PostgreSQL: one statement-level trigger per INSERT / UPDATE / DELETE over the statement's transition tables,
  adding one row per (job_type_id, status) whose net change is not 0; TRUNCATE empties the counters.
  The functions pin the search_path they were created with, so they find this schema's job_counts whatever
  the writing session's search_path (tests run each in a schema of its own).
- SQLite: row-level triggers adding +1 / -1 rows (an UPDATE only when status or job_type_id changed).
jobs/counts.py folds the rows back into one per key when a read sees many.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Statement-level: the deltas of a whole statement, from its transition tables (one INSERT, whatever its size).
POSTGRES_FUNCTIONS = {
    "job_counts_insert": """
        INSERT INTO job_counts (job_type_id, status, n)
        SELECT job_type_id, status, count(*) FROM new_jobs GROUP BY job_type_id, status""",
    "job_counts_update": """
        INSERT INTO job_counts (job_type_id, status, n)
        SELECT job_type_id, status, sum(n) FROM (
            SELECT job_type_id, status, 1 AS n FROM new_jobs
            UNION ALL
            SELECT job_type_id, status, -1 AS n FROM old_jobs) AS changes
        GROUP BY job_type_id, status HAVING sum(n) <> 0""",
    "job_counts_delete": """
        INSERT INTO job_counts (job_type_id, status, n)
        SELECT job_type_id, status, -count(*) FROM old_jobs GROUP BY job_type_id, status""",
    "job_counts_truncate": """
        DELETE FROM job_counts""",
}
POSTGRES_TRIGGERS = {
    "job_counts_insert": "AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_jobs",
    # No column list: PostgreSQL refuses one on a trigger with transition tables.
    "job_counts_update": "AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs",
    "job_counts_delete": "AFTER DELETE ON jobs REFERENCING OLD TABLE AS old_jobs",
    "job_counts_truncate": "AFTER TRUNCATE ON jobs",
}

SQLITE_TRIGGERS = {
    "job_counts_insert": """AFTER INSERT ON jobs BEGIN
        INSERT INTO job_counts (job_type_id, status, n) VALUES (NEW.job_type_id, NEW.status, 1);
    END""",
    "job_counts_update": """AFTER UPDATE OF status, job_type_id ON jobs
    WHEN NEW.status IS NOT OLD.status OR NEW.job_type_id IS NOT OLD.job_type_id BEGIN
        INSERT INTO job_counts (job_type_id, status, n)
        VALUES (OLD.job_type_id, OLD.status, -1), (NEW.job_type_id, NEW.status, 1);
    END""",
    "job_counts_delete": """AFTER DELETE ON jobs BEGIN
        INSERT INTO job_counts (job_type_id, status, n) VALUES (OLD.job_type_id, OLD.status, -1);
    END""",
}


def upgrade() -> None:
    op.create_table(
        "job_counts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=50), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_job_counts_status_job_type_id", "job_counts", ["status", "job_type_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        for name, body in POSTGRES_FUNCTIONS.items():
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT "
                f"AS $$ BEGIN {body}; RETURN NULL; END $$"
            )
            op.execute(f"CREATE TRIGGER {name} {POSTGRES_TRIGGERS[name]} FOR EACH STATEMENT EXECUTE FUNCTION {name}()")
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    # Existing jobs (the triggers count every write from here on, in this same transaction).
    op.execute(
        "INSERT INTO job_counts (job_type_id, status, n) "
        "SELECT job_type_id, status, count(*) FROM jobs GROUP BY job_type_id, status"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in POSTGRES_FUNCTIONS:
            op.execute(f"DROP TRIGGER {name} ON jobs")
            op.execute(f"DROP FUNCTION {name}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index("ix_job_counts_status_job_type_id", table_name="job_counts")
    op.drop_table("job_counts")
