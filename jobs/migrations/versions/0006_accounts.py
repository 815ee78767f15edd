"""accounts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 21:00:00.000000

Named users (staff or read-only, argon2 password hashes), their personal API tokens and browser sessions
(both kept as SHA-256 digests only), failed logins for throttling, and job_events: the trigger events that
changed a job after it was created (cancel, requeue), so each records who did it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", ID, nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("password", sa.String(length=255), nullable=True),
        sa.Column("first_name", sa.String(length=150), nullable=False),
        sa.Column("last_name", sa.String(length=150), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("is_staff", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("date_joined", WHEN, nullable=False),
        sa.Column("last_login", WHEN, nullable=True),
        sa.Column("last_modified", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created", WHEN, nullable=False),
        sa.Column("revoked", WHEN, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "user_sessions",
        sa.Column("id", ID, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("created", WHEN, nullable=False),
        sa.Column("expires", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])
    op.create_index("ix_user_sessions_expires", "user_sessions", ["expires"])
    op.create_table(
        "login_failures",
        sa.Column("id", ID, nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("occurred", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_failures_username_occurred", "login_failures", ["username", "occurred"])
    op.create_index("ix_login_failures_address_occurred", "login_failures", ["address", "occurred"])
    op.create_index("ix_login_failures_occurred", "login_failures", ["occurred"])
    op.create_table(
        "job_events",
        sa.Column("job_id", ID, nullable=False),
        sa.Column("event_id", ID, nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"]),
        sa.ForeignKeyConstraint(["event_id"], ["trigger_events.id"]),
        sa.PrimaryKeyConstraint("job_id", "event_id"),
    )
    op.create_index("ix_job_events_event_id", "job_events", ["event_id"])


def downgrade() -> None:
    for table in ("job_events", "login_failures", "user_sessions", "api_tokens", "users"):
        op.drop_table(table)
