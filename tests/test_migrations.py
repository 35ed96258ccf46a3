"""The migrations build exactly the schema the models describe, and start-up applies them once."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from db.migrate import SCHEMA_HEADS, current_revisions, head_revisions, migrate
from db.models import Base


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    def diff(conn):  # type: ignore[no-untyped-def]
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        with warnings.catch_warnings():  # alembic cannot compare expression indexes (the HNSW cast); it says so
            warnings.filterwarnings("ignore", message=".*operator clause.*")
            return compare_metadata(ctx, Base.metadata)

    async with engine.connect() as conn:
        assert await current_revisions(conn) == head_revisions() == SCHEMA_HEADS
        changes = await conn.run_sync(diff)
    # Search builds an HNSW index per embedding size at run time (ix_memory_hnsw_<dim>); only the
    # default one belongs to the schema.
    runtime_made = [c for c in changes if c[0] == "remove_index" and c[1].name.startswith("ix_memory_hnsw_")]
    assert [c for c in changes if c not in runtime_made] == [], changes


async def test_migrating_an_up_to_date_database_is_a_no_op(engine: AsyncEngine) -> None:
    await migrate(engine)
    await migrate(engine)
    async with engine.connect() as conn:
        assert await current_revisions(conn) == head_revisions()
