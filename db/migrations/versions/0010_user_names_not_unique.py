"""users: a name is a label, not a key

A terminal user's name is whatever `--user` or a jsonl "user" says, and a platform user is named
"telegram:1004" when first seen; with names unique, a terminal user called "telegram:1004"
locked the Telegram account 1004 out for good. A person is found by an identity (platform,
platform user id), which is unique; the name only labels them.

Revision ID: 0010
Revises: 0009
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("users_name_key", "users", type_="unique")


def downgrade() -> None:
    # Names taken twice meanwhile get their id appended, so the constraint can come back.
    op.execute(sa.text("""
        UPDATE users SET name = left(name, 163) || ':' || id::text
        WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY name ORDER BY created_at) AS n
                                     FROM users) ranked WHERE n > 1)"""))
    op.create_unique_constraint("users_name_key", "users", ["name"])
