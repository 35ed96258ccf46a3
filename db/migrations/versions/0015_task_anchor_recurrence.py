"""tasks: a repeating task's rule, and a reminder anchored to an event

`recurrence` is an RFC 5545 RRULE read on the user's wall clock from the task's first reminder (or
due time): when a reminder fires (or the task is done) the next one is set. `anchor_event_id` and
`anchor_minutes` say the reminder comes that many minutes before the event's start, so it moves
when the event moves (and goes when the event is cancelled or deleted).

Revision ID: 0015
Revises: 0014
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("recurrence", sa.Text(), nullable=True))
    op.add_column("tasks", sa.Column("anchor_event_id", postgresql.UUID(as_uuid=True), nullable=True))
    op.add_column("tasks", sa.Column("anchor_minutes", sa.Integer(), nullable=True))
    op.create_foreign_key("fk_tasks_anchor_event", "tasks", "events", ["anchor_event_id"], ["id"],
                          ondelete="SET NULL")
    op.create_index("ix_tasks_anchor_event", "tasks", ["anchor_event_id"],
                    postgresql_where=sa.text("anchor_event_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_tasks_anchor_event", table_name="tasks", postgresql_where=sa.text("anchor_event_id IS NOT NULL"))
    op.drop_constraint("fk_tasks_anchor_event", "tasks", type_="foreignkey")
    for column in ("anchor_minutes", "anchor_event_id", "recurrence"):
        op.drop_column("tasks", column)
