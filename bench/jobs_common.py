"""Shared by the job benchmarks: a fresh database, COPY bulk loads, worker processes, a private Redis db."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.fakes and tests.worker_child are reused here

from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from db.engine import database_url, make_engine  # noqa: E402
from db.migrate import migrate  # noqa: E402


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def fresh_engine(url: str | None) -> tuple[AsyncEngine, str]:
    """An engine on `url`, or on an embedded Postgres in a new temporary dir; migrated."""
    data_dir = Path(tempfile.mkdtemp(prefix="pixie-bench-"))
    engine = make_engine(database_url(url, data_dir))
    await migrate(engine)
    return engine, engine.url.render_as_string(hide_password=False)


async def copy(engine_url: str, rows: dict[str, tuple[list[str], Iterable[tuple[Any, ...]]]]) -> None:
    """Bulk-load with raw asyncpg COPY (≈20× faster than INSERTs), table by table in the given order."""
    import asyncpg

    conn = await asyncpg.connect(engine_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for table, (columns, records) in rows.items():
            await conn.copy_records_to_table(table, records=list(records), columns=columns)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def spawn_workers(n: int, engine_url: str, redis_db: int, platform_url: str, *extra: str) -> list[subprocess.Popen]:
    """`n` worker processes (tests/worker_child.py) delivering to the fake platform; logs in a temp file."""
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT)}
    log = tempfile.NamedTemporaryFile(prefix="pixie-bench-worker-", suffix=".log", delete=False)  # noqa: SIM115
    print(f"(worker logs: {log.name})", file=sys.stderr)
    return [subprocess.Popen([sys.executable, "-m", "tests.worker_child", "--database-url", engine_url,
                              "--redis-db", str(redis_db), "--platform", platform_url, *extra],
                             cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
            for _ in range(n)]


async def wait_for(predicate: Any, limit: float, every: float = 0.2) -> bool:
    """Poll an async predicate until it holds (True) or `limit` seconds pass (False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while loop.time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(every)
    return False
