"""accounts and calendars: connected outside accounts (secrets encrypted), and what sync needs on tasks and events

An account's secret (OAuth tokens, a mailbox password) is stored only as a Fernet token. Tasks and
events learn where they came from: a remote id and etag, unique per (user, source) so that a sync
that sees the same item twice upserts one row; an event also its calendar (deleted with it) and,
for an exception of a recurring series, the series and the instance it replaces.

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("remote_id", sa.String(length=320), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=True),
        sa.Column("cursor", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_sync_at", TZ, nullable=True),
        sa.Column("last_synced_at", TZ, nullable=True),
        sa.Column("connected_at", TZ, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "provider", "remote_id", name="uq_accounts_remote"),
    )
    op.create_index("ix_accounts_user_id", "accounts", ["user_id"], unique=False)
    op.create_index("ix_accounts_due", "accounts", ["kind", "status", "next_sync_at"], unique=False)
    op.create_index("uq_accounts_deployment", "accounts", ["provider", "remote_id"], unique=True,
                    postgresql_where=sa.text("user_id IS NULL"))

    op.create_table(
        "calendars",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("remote_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=True),
        sa.Column("writable", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("selected", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("sync_token", sa.Text(), nullable=True),
        sa.Column("token_version", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("synced_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "remote_id", name="uq_calendars_remote"),
    )
    op.create_index("ix_calendars_account_id", "calendars", ["account_id"], unique=False)
    op.create_index("ix_calendars_user_id", "calendars", ["user_id"], unique=False)
    op.create_index("uq_calendars_default", "calendars", ["user_id"], unique=True,
                    postgresql_where=sa.text("is_default"))

    op.add_column("tasks", sa.Column("external_id", sa.Text(), nullable=True))
    op.add_column("tasks", sa.Column("etag", sa.Text(), nullable=True))
    op.create_index("uq_tasks_external", "tasks", ["user_id", "source", "external_id"], unique=True,
                    postgresql_where=sa.text("external_id IS NOT NULL"))

    op.add_column("events", sa.Column("calendar_id", sa.UUID(), nullable=True))
    op.add_column("events", sa.Column("external_id", sa.Text(), nullable=True))
    op.add_column("events", sa.Column("etag", sa.Text(), nullable=True))
    op.add_column("events", sa.Column("series_id", sa.Text(), nullable=True))
    op.add_column("events", sa.Column("original_start_at", TZ, nullable=True))
    op.create_foreign_key("events_calendar_id_fkey", "events", "calendars", ["calendar_id"], ["id"],
                          ondelete="CASCADE")
    op.create_index("ix_events_calendar_id", "events", ["calendar_id"], unique=False)
    op.create_index("uq_events_external", "events", ["user_id", "source", "external_id"], unique=True,
                    postgresql_where=sa.text("external_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("uq_events_external", table_name="events", postgresql_where=sa.text("external_id IS NOT NULL"))
    op.drop_index("ix_events_calendar_id", table_name="events")
    op.drop_constraint("events_calendar_id_fkey", "events", type_="foreignkey")
    for column in ("original_start_at", "series_id", "etag", "external_id", "calendar_id"):
        op.drop_column("events", column)
    op.drop_index("uq_tasks_external", table_name="tasks", postgresql_where=sa.text("external_id IS NOT NULL"))
    op.drop_column("tasks", "etag")
    op.drop_column("tasks", "external_id")
    op.drop_table("calendars")
    op.drop_table("accounts")
