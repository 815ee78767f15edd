"""alerts

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 12:50:00.000000

alert_rules: a threshold on a saved search (more than `threshold` matches in the last `window_minutes`), checked
every `interval_seconds`, notifying a webhook and/or email addresses. A process checks a rule only after claiming
it (an UPDATE that sets claimed_by/claim_until where no live claim is: the first writer wins, as the daily prune's
INSERT does), so however many API or alert processes run, one checks each rule at a time.
alert_deliveries: each notification to one target, claimed the same way, retried with backoff until delivered
or given up. alert_history: every evaluation and delivery attempt, listed by /v6/alerts/{id}/history/.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("saved_search_id", ID, sa.ForeignKey("saved_searches.id", ondelete="CASCADE"), nullable=False),
        sa.Column("owner", sa.String(150), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("window_minutes", sa.Integer(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("webhook_url", sa.String(2000), nullable=True),
        sa.Column("email_to", sa.String(1000), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("last_count", sa.BigInteger(), nullable=True),
        sa.Column("last_checked", WHEN, nullable=True),
        sa.Column("next_check", WHEN, nullable=False),
        sa.Column("claimed_by", sa.String(255), nullable=True),
        sa.Column("claim_until", WHEN, nullable=True),
        sa.Column("created", WHEN, nullable=False),
        sa.Column("last_modified", WHEN, nullable=False),
    )
    op.create_index("ix_alert_rules_next_check", "alert_rules", ["next_check"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("rule_id", ID, sa.ForeignKey("alert_rules.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt", WHEN, nullable=False),
        sa.Column("claimed_by", sa.String(255), nullable=True),
        sa.Column("claim_until", WHEN, nullable=True),
        sa.Column("created", WHEN, nullable=False),
    )
    op.create_index("ix_alert_deliveries_due", "alert_deliveries", ["status", "next_attempt"])
    op.create_table(
        "alert_history",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("rule_id", ID, sa.ForeignKey("alert_rules.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=True),
        sa.Column("count", sa.BigInteger(), nullable=True),
        sa.Column("event", sa.String(16), nullable=True),
        sa.Column("target", sa.String(16), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(500), nullable=True),
        sa.Column("holder", sa.String(255), nullable=False),
    )
    op.create_index("ix_alert_history_rule", "alert_history", ["rule_id", "id"])


def downgrade() -> None:
    op.drop_table("alert_history")
    op.drop_table("alert_deliveries")
    op.drop_table("alert_rules")
