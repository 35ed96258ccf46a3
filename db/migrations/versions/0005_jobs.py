"""background jobs: a delivery state on the notifications outbox, and where the digest goes

Revision ID: 0005
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # queued → sending (a worker holds it until lease_until) → sent | failed
    op.add_column("notifications", sa.Column("status", sa.String(length=16), server_default="queued", nullable=False))
    op.add_column("notifications", sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("notifications", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("notifications", sa.Column("platform", sa.String(length=32), nullable=True))
    op.execute("UPDATE notifications SET status = 'sent' WHERE sent_at IS NOT NULL")
    op.create_index("ix_notifications_open", "notifications", ["status", "next_attempt_at"], unique=False,
                    postgresql_where=sa.text("status IN ('queued', 'sending')"))
    op.add_column("users", sa.Column("digest_channel", sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "digest_channel")
    op.drop_index("ix_notifications_open", table_name="notifications",
                  postgresql_where=sa.text("status IN ('queued', 'sending')"))
    op.drop_column("notifications", "platform")
    op.drop_column("notifications", "next_attempt_at")
    op.drop_column("notifications", "lease_until")
    op.drop_column("notifications", "status")
