"""workspace deprecated

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 09:20:00.000000

workspaces.deprecated: when a workspace was made inactive (Scale v6's field; PATCH /v6/workspaces/{id}/ sets it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("workspaces", sa.Column("deprecated", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workspaces") as batch_op:
        batch_op.drop_column("deprecated")
