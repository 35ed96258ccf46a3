"""Bring the schema to the newest Alembic revision; run automatically on start."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest revision, known without loading Alembic (≈0.5 s of start-up); a test holds it to
# what Alembic computes from db/migrations, so adding a migration means updating this line.
SCHEMA_HEADS = frozenset({"0016"})
_LOCK = 0x70697869  # "pixi": one migrator at a time across processes


class MissingPgvector(RuntimeError):
    """The server has no pgvector extension to create; the message says how to get it."""

    def __init__(self) -> None:
        super().__init__("the database server has no pgvector extension: install it on the server "
                         "(apt install postgresql-16-pgvector, or the pgvector/pgvector Docker image), or unset "
                         "PIXIE_DATABASE_URL to use the embedded Postgres, which has it")


def alembic_config() -> Config:
    """Alembic's config, built in code (no alembic.ini to keep in sync)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revisions() -> set[str]:
    """The newest revision(s) in db/migrations, as Alembic computes them."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def _upgrade(conn: Connection, cfg: Config) -> None:
    from alembic import command

    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "heads")


async def current_revisions(conn: AsyncConnection) -> set[str]:
    """The revision(s) the database is at (empty for an empty database)."""
    if not (await conn.execute(text("SELECT to_regclass('public.alembic_version') IS NOT NULL"))).scalar():
        return set()
    return set((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())


async def migrate(engine: AsyncEngine) -> None:
    """Create the vector extension and apply pending migrations (a no-op when up to date)."""
    heads = set(SCHEMA_HEADS)
    async with engine.connect() as conn:
        if await current_revisions(conn) == heads:
            return
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK})
        try:
            if await current_revisions(conn) != heads:  # another process may have just done it
                if not (await conn.execute(text(
                        "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"))).scalar():
                    raise MissingPgvector()
                await conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
                await conn.commit()
                await conn.run_sync(_upgrade, alembic_config())
            await conn.commit()
        finally:
            await conn.rollback()  # a failed step leaves the transaction aborted; the lock outlives it
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK})
            await conn.commit()
    await engine.dispose()  # connections opened before the vector type existed lack its binary codec
