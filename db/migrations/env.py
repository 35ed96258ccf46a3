"""Alembic environment: runs on the connection Pixie hands it (see db.migrate)."""

from __future__ import annotations

from alembic import context

from db.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
