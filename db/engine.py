"""Connecting to Postgres: an external server from PIXIE_DATABASE_URL, else the embedded one."""

from __future__ import annotations

import logging
import signal
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from pgvector import Vector
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from db import lifetime

log = logging.getLogger(__name__)

_servers: dict[Path, Any] = {}


def embedded_url(data_dir: Path) -> str:
    """Start (or join) the embedded Postgres + pgvector in `data_dir/pg` and return its URL.

    It stops when the last Pixie process using it ends, however that process ends (db/lifetime.py).
    """
    pg_dir = (data_dir / "pg").resolve()
    server = _servers.get(pg_dir)
    if server is None:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import pgserver  # imported lazily: it is only needed without PIXIE_DATABASE_URL

        data_dir.mkdir(parents=True, exist_ok=True)
        lifetime.watch(embedded_postgres(pg_dir))
        server = pgserver.get_server(pg_dir, cleanup_mode="stop")
        _servers[pg_dir] = server
    socket_dir = server.get_postmaster_info().socket_dir
    return f"postgresql+asyncpg://postgres@/postgres?host={socket_dir}"


def embedded_postgres(pg_dir: Path) -> lifetime.Server:
    """pgserver's Postgres in `pg_dir` as db/lifetime.py sees it: pgserver's own user list and lock."""
    from pgserver.postgres_server import PostgresServer

    # SIGINT is Postgres's "fast" shutdown, what `pg_ctl stop` sends: sessions end, data is flushed.
    return lifetime.Server(users=pg_dir / ".handle_pids.json", lock=Path(PostgresServer.lock_path),
                           pid_file=pg_dir / "postmaster.pid", marker=str(pg_dir), stop_signal=signal.SIGINT)


def normalise_url(url: str) -> str:
    """Accept plain postgres:// URLs and use the asyncpg driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    return url


def database_url(database_url: str | None, data_dir: Path) -> str:
    """The URL to use: the configured one, or the embedded server's."""
    return normalise_url(database_url) if database_url else embedded_url(data_dir)


def vector_binary(value: Any) -> bytes:
    """pgvector's binary form of a vector given as a list, an array, a Vector, or '[1,2,3]' text."""
    if isinstance(value, str):
        value = np.array(value.strip("[] ").split(","), dtype=np.float32) if value.strip("[] ") else []
    return (value if isinstance(value, Vector) else Vector(value)).to_binary()


async def _vector_codec(conn: Any) -> None:
    """Vectors travel in binary (no 384 floats printed and parsed per query); reads come back as Vector."""
    try:
        await conn.set_type_codec("vector", schema="public", encoder=vector_binary, decoder=Vector.from_binary,
                                  format="binary")
    except ValueError:  # the extension is not created yet: migrate() replaces this connection
        pass


def make_engine(url: str, **kw: Any) -> AsyncEngine:
    """An async engine with a pool sized for many concurrent conversations."""
    kw.setdefault("pool_size", 10)
    kw.setdefault("max_overflow", 20)
    kw.setdefault("pool_pre_ping", False)
    engine = create_async_engine(url, **kw)

    @event.listens_for(engine.sync_engine, "connect")
    def _connected(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.run_async(_vector_codec)

    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    """Sessions that keep loaded rows usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)
