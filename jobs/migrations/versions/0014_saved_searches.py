"""saved searches

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 12:45:00.000000

saved_searches: a log search (the query string of /v6/logs/) kept under a name by its owner, private to them or
shared with everyone who may read logs (issue 22). A name is unique per owner.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "saved_searches",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(150), nullable=False),
        sa.Column("query", sa.String(4000), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("owner", "name", name="uq_saved_searches_owner_name"),
    )


def downgrade() -> None:
    op.drop_table("saved_searches")
