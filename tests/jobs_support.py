"""Helpers for the worker tests: a private Redis database, a settable clock, users on a fake platform."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis
from arq import Worker
from arq.connections import RedisSettings

from bots.app import Runtime
from core.scheduler import digest_slot_after
from core.tools import ToolContext, run_tool
from db.models import Identity, User
from jobs.context import JobContext, utcnow
from jobs.worker import close_worker, make_worker
from tests.fakes.chat_platform import HttpNotifier

REDIS_HOST = "127.0.0.1"
LOCK = "pixie:test:owner"


def redis_port() -> int:
    """The test Redis: the one on 6379, or the one conftest started when nothing answered there."""
    return int(os.environ.get("PIXIE_TEST_REDIS_PORT", "6379"))


@asynccontextmanager
async def private_redis_db() -> AsyncIterator[RedisSettings]:
    """A database number on the shared Redis that no other test session holds, emptied before and after."""
    token = uuid.uuid4().hex
    for db in range(15, 0, -1):
        client = aioredis.Redis(host=REDIS_HOST, port=redis_port(), db=db)
        try:
            if await client.set(LOCK, token, nx=True, ex=900):
                await client.flushdb()
                await client.set(LOCK, token, ex=900)
                try:
                    yield RedisSettings(host=REDIS_HOST, port=redis_port(), database=db)
                finally:
                    await client.flushdb()
                return
        finally:
            await client.aclose()
    raise RuntimeError(f"no free Redis database on 127.0.0.1:{redis_port()} (all 15 are locked by other test runs)")


class Clock:
    """A clock the test moves; jobs read it through JobContext.now."""

    def __init__(self, start: dt.datetime) -> None:
        self.value = start

    def __call__(self) -> dt.datetime:
        return self.value

    def set(self, iso: str) -> None:
        self.value = dt.datetime.fromisoformat(iso)


async def platform_user(rt: Runtime, name: str, tz: str, now: dt.datetime, platform: str = "telegram",
                        digest: bool = True) -> User:
    """A user who talks to Pixie on a chat platform (so the worker pushes to them)."""
    at = dt.time(7, 30) if digest else None
    async with rt.sessions() as session, session.begin():
        user = User(id=uuid.uuid4(), name=name, tz=tz, digest_time=at, created_at=now,
                    next_digest_at=digest_slot_after(now, at, tz))
        session.add(user)
        await session.flush()
        session.add(Identity(user_id=user.id, platform=platform, platform_user_id=f"{name}-id",
                             chat_id=f"{name}-chat", created_at=now))
    return user


async def call(rt: Runtime, user: User, tool: str, args: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """Run one tool as `user` at `now`; the call must succeed."""
    async with rt.sessions() as session, session.begin():
        fresh = await session.get(User, user.id)
        assert fresh is not None
        action = await run_tool(ToolContext(session, fresh, now, ZoneInfo(fresh.tz), rt.memory), tool, args)
        assert action.ok, action.result
        return action.result


def job_context(rt: Runtime, url: str, clock: Clock | None = None, **kw: Any) -> JobContext:
    """A JobContext delivering to the fake platform at `url`, with quick retries."""
    kw.setdefault("backoff_base", 0.05)
    kw.setdefault("send_timeout", 5.0)
    return JobContext(rt.sessions, rt.memory, HttpNotifier(url), now=clock or utcnow, **kw)


async def burst(jc: JobContext, redis: RedisSettings, **kw: Any) -> Worker:
    """Run a worker until its queue is empty (start-up tick included), then close it."""
    worker = make_worker(jc, redis, burst=True, poll_delay=0.02, handle_signals=False, **kw)
    try:
        await worker.main()
    finally:
        await close_worker(worker)
        if isinstance(jc.notifier, HttpNotifier):
            await jc.notifier.close()
    return worker


@asynccontextmanager
async def running(jc: JobContext, redis: RedisSettings, **kw: Any) -> AsyncIterator[Worker]:
    """A worker running on its real schedule (not burst) for the length of the block."""
    worker = make_worker(jc, redis, poll_delay=0.02, handle_signals=False, **kw)
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        # Stop the loop first, while its Redis pool is still open, so an interrupted pipeline can
        # hand its connection back; closing the pool under a live pipeline leaks it.
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await close_worker(worker)
        if isinstance(jc.notifier, HttpNotifier):
            await jc.notifier.close()


async def wait_until(predicate: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    """Poll `predicate` until it holds; fail the test after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await predicate():
        assert loop.time() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)
