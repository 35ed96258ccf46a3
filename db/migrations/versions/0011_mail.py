"""mail: each user's forwarding token, the addresses they registered, and every mail read from the mailbox

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("users", sa.Column("mail_token", sa.String(length=64), nullable=True))
    op.create_unique_constraint("users_mail_token_key", "users", ["mail_token"])
    op.create_table(
        "mail_senders",
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("address"),
    )
    op.create_index("ix_mail_senders_user_id", "mail_senders", ["user_id"], unique=False)
    op.create_table(
        "mails",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("received_at", TZ, nullable=True),
        sa.Column("handled_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "key", name="uq_mails_key"),
    )
    op.create_index("ix_mails_user_id", "mails", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_table("mails")
    op.drop_table("mail_senders")
    op.drop_constraint("users_mail_token_key", "users", type_="unique")
    op.drop_column("users", "mail_token")
