"""output files

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 21:10:00.000000

Scale files produced by job executions: which execution, output, job type, recipe (and its type and node)
and batch made each one, as Scale's ScaleFile records them; an index to list a job's files by last_modified.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# (column, type, the table it references or None, indexed)
COLUMNS = (
    ("job_exe_id", ID, "job_executions", True),
    ("job_output", sa.String(length=250), None, False),
    ("job_type_id", ID, "job_types", True),
    ("recipe_id", ID, "recipes", True),
    ("recipe_type_id", ID, "recipe_types", False),
    ("recipe_node", sa.String(length=250), None, False),
    ("batch_id", ID, "batches", False),
)


@contextmanager
def _quiet_reflection():
    # SQLite's batch mode reads the tables scale_files refers to, jobs among them, and SQLAlchemy can't reflect
    # jobs' expression index (ix_jobs_duration); that index is not touched here, so its warning is noise.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index", sa.exc.SAWarning)
        yield


def upgrade() -> None:
    with _quiet_reflection(), op.batch_alter_table("scale_files") as batch_op:
        for name, kind, table, indexed in COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=True))
            if table is not None:
                batch_op.create_foreign_key(f"fk_scale_files_{name}_{table}", table, [name], ["id"])
            if indexed:
                batch_op.create_index(f"ix_scale_files_{name}", [name])
        batch_op.create_index("ix_scale_files_job_id_last_modified", ["job_id", "last_modified", "id"])


def downgrade() -> None:
    with _quiet_reflection(), op.batch_alter_table("scale_files") as batch_op:
        batch_op.drop_index("ix_scale_files_job_id_last_modified")
        for name, _kind, table, indexed in reversed(COLUMNS):
            if indexed:
                batch_op.drop_index(f"ix_scale_files_{name}")
            if table is not None:
                batch_op.drop_constraint(f"fk_scale_files_{name}_{table}", type_="foreignkey")
            batch_op.drop_column(name)
