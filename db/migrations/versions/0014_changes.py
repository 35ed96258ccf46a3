"""changes: what each change a user made through Pixie did to their rows, so it can be undone

A trigger on the tables that hold a user's data (tasks, events, memory_items, reminders, users)
writes the row before and after every insert, update and delete — but only while a tool the user
asked for runs (core/tools.py sets `pixie.change` to the turn's change id for the tool's duration).
Every writer is covered, ORM or plain SQL, cascades included; core/undo.py reads it back.

Revision ID: 0014
Revises: 0013
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLES = ("users", "tasks", "events", "memory_items", "reminders")


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("seq", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("change_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("source", sa.String(length=32), nullable=True),
        sa.Column("tbl", sa.String(length=32), nullable=False),
        sa.Column("op", sa.String(length=8), nullable=False),
        sa.Column("row_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("old", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("new", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_changes_user_change", "changes", ["user_id", "change_id"])
    op.create_index("ix_changes_user_seq", "changes", ["user_id", "seq"])
    op.execute("""
    CREATE FUNCTION pixie_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      change text := current_setting('pixie.change', true);
      r jsonb := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END);
      owner uuid;
    BEGIN
      IF change IS NULL OR change = '' THEN
        RETURN NULL;
      END IF;
      owner := CASE WHEN TG_TABLE_NAME = 'users' THEN (r->>'id')::uuid ELSE (r->>'user_id')::uuid END;
      INSERT INTO changes (change_id, user_id, source, tbl, op, row_id, old, new)
      VALUES (change::uuid, owner, current_setting('pixie.source', true), TG_TABLE_NAME, TG_OP, (r->>'id')::uuid,
              CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE to_jsonb(OLD) - 'tsv' - 'user_tsv' END,
              CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE to_jsonb(NEW) - 'tsv' - 'user_tsv' END);
      RETURN NULL;
    END $$""")
    for table in TABLES:  # "zz": after the foreign keys' own triggers, so a cascade is logged before its cause
        op.execute(f"CREATE TRIGGER zz_pixie_change AFTER INSERT OR UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION pixie_log_change()")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS zz_pixie_change ON {table}")
    op.execute("DROP FUNCTION IF EXISTS pixie_log_change()")
    op.drop_index("ix_changes_user_seq", table_name="changes")
    op.drop_index("ix_changes_user_change", table_name="changes")
    op.drop_table("changes")
