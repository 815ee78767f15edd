"""execution lease

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 15:00:00.000000

job_executions.lease_expires: a local worker holds the execution it runs by renewing this; an execution still
RUNNING after it expired lost its worker, and any other worker fails it (node-lost) so its job is requeued or
failed instead of staying RUNNING forever. NULL for executions started through the API.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("job_executions", sa.Column("lease_expires", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_executions") as batch_op:
        batch_op.drop_column("lease_expires")
