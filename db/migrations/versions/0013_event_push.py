"""events: what a synced event still has to tell its calendar, the remote version it was based on, its history

An event the user makes, moves or cancels in chat on a synced calendar is marked `push`
(create | update | delete) in the same transaction; a job writes it to the calendar later.
`base` is the event's fields as the calendar last held them (what both sides' edits are measured
against), and `history` keeps every version that lost to a newer edit on the other side.

Revision ID: 0013
Revises: 0012
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("push", sa.String(length=8), nullable=True))
    op.add_column("events", sa.Column("base", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column("events", sa.Column("history", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.create_index("ix_events_push", "events", ["calendar_id"], unique=False,
                    postgresql_where=sa.text("push IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_events_push", table_name="events", postgresql_where=sa.text("push IS NOT NULL"))
    for column in ("history", "base", "push"):
        op.drop_column("events", column)
