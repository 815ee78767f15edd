"""scoped tokens, login throttles

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 09:00:00.000000

api_tokens gets a scope ("user": acts as its owner; "executor": may only start, update and finish executions and
send their log lines), an optional node an executor token is bound to, and an expiry. Tokens made before this
revision expire 90 days after it runs (a token without an expiry never works: the lookup needs expires > now).

login_failures (one row per failure, counted by a read before the insert: a race, and a per-username limit anyone
could use to lock a user out) becomes login_throttles: one row per (username, client address), counted by a
single upsert, cleared by a successful login. Throttling restarts empty: the old rows are dropped.

user_sessions gets last_seen, for the idle timeout (SESSION_IDLE_SECONDS); open sessions count as seen now.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
EXISTING_TOKENS_DAYS = 90


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("scope", sa.String(16), nullable=False, server_default="user"))
        batch.add_column(sa.Column("node", sa.String(250), nullable=True))
        batch.add_column(sa.Column("expires", WHEN, nullable=True))
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":  # stored naive, always UTC (jobs.models.UtcDateTime)
        now = now.replace(tzinfo=None)
    expires = now + timedelta(days=EXISTING_TOKENS_DAYS)
    tokens = sa.table("api_tokens", sa.column("expires", WHEN))
    op.execute(tokens.update().values(expires=expires))

    with op.batch_alter_table("user_sessions") as batch:
        batch.add_column(sa.Column("last_seen", WHEN, nullable=True))
    sessions = sa.table("user_sessions", sa.column("last_seen", WHEN))
    op.execute(sessions.update().values(last_seen=now))

    op.drop_table("login_failures")
    op.create_table(
        "login_throttles",
        sa.Column("username", sa.String(150), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("retry_at", sa.Float(), nullable=False),
        sa.Column("last_failure", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("username", "address"),
    )
    op.create_index("ix_login_throttles_last_failure", "login_throttles", ["last_failure"])


def downgrade() -> None:
    op.drop_table("login_throttles")
    op.create_table(
        "login_failures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("occurred", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_failures_username_occurred", "login_failures", ["username", "occurred"])
    op.create_index("ix_login_failures_address_occurred", "login_failures", ["address", "occurred"])
    op.create_index("ix_login_failures_occurred", "login_failures", ["occurred"])
    with op.batch_alter_table("user_sessions") as batch:
        batch.drop_column("last_seen")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires")
        batch.drop_column("node")
        batch.drop_column("scope")
