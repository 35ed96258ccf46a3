"""Workers as separate processes: SIGKILL mid-delivery loses and doubles nothing; two workers never both send."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from pathlib import Path

import pytest
from arq.connections import RedisSettings
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.app import Runtime
from db.models import Notification
from tests.fakes.chat_platform import FakeChatPlatform
from tests.jobs_support import call, job_context, platform_user, running, wait_until

ROOT = Path(__file__).resolve().parent.parent


async def spawn_worker(engine: AsyncEngine, redis: RedisSettings, fake: FakeChatPlatform,
                       *extra: str) -> asyncio.subprocess.Process:
    url = engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.worker_child", "--database-url", url, "--redis-db", str(redis.database),
        "--platform", fake.url, *extra, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def _status(rt: Runtime) -> list[str]:
    async with rt.sessions() as session:
        return list(await session.scalars(select(Notification.status)))


@pytest.mark.parametrize("hang", ["before", "after"])
async def test_a_worker_killed_mid_delivery_neither_loses_nor_doubles_the_reminder(
        rt: Runtime, engine: AsyncEngine, redis: RedisSettings, fake: FakeChatPlatform, hang: str) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    user = await platform_user(rt, "ada", "Europe/Berlin", now - dt.timedelta(hours=1), digest=False)
    await call(rt, user, "create_task", {"title": "Call mom", "remind_at": (now - dt.timedelta(seconds=5)).isoformat()},
               now - dt.timedelta(hours=1))
    fake.hang = hang  # "before": killed before the platform took it; "after": it took it, no answer came back
    proc = await spawn_worker(engine, redis, fake, "--lease", "1.5")
    try:
        await asyncio.wait_for(fake.arrived.wait(), 30)
    finally:
        proc.kill()  # SIGKILL: no handler, no cleanup
        await proc.communicate()
    assert await _status(rt) == ["sending"]
    fake.release()
    await asyncio.sleep(1.6)  # the dead worker's lease runs out

    # A fresh worker; the dead one's arq job stays "in progress" for minutes, which must not matter.
    async def sent() -> bool:
        return await _status(rt) == ["sent"]

    async with running(job_context(rt, fake.url), redis):
        await wait_until(sent)
    assert fake.texts() == ["⏰ Reminder: Call mom"]  # once: not lost, not doubled
    assert len(fake.posts) == 2 and fake.posts[0] == fake.posts[1]  # resent under the same idempotency key


async def test_a_killed_workers_reminder_goes_out_within_seconds_not_after_its_lease(
        rt: Runtime, engine: AsyncEngine, redis: RedisSettings, fake: FakeChatPlatform) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    user = await platform_user(rt, "ada", "Europe/Berlin", now - dt.timedelta(hours=1), digest=False)
    await call(rt, user, "create_task", {"title": "Take the cake out", "remind_at": (now - dt.timedelta(seconds=5))
                                         .isoformat()}, now - dt.timedelta(hours=1))
    fake.hang = "after"  # the platform took it; the worker dies before it hears so
    proc = await spawn_worker(engine, redis, fake)  # the default 60 s lease
    try:
        await asyncio.wait_for(fake.arrived.wait(), 30)
    finally:
        proc.kill()
        await proc.communicate()
    killed = asyncio.get_running_loop().time()
    fake.release()

    async def sent() -> bool:
        return await _status(rt) == ["sent"]

    # The dead worker's alive mark expires (10 s at most); the claim is over the grace by then.
    async with running(job_context(rt, fake.url, holder_grace=dt.timedelta(seconds=1)), redis):
        await wait_until(sent, within=40)
    waited = asyncio.get_running_loop().time() - killed
    assert waited < 30, f"waited {waited:.1f} s: the lease (60 s), not the dead worker, decided"
    assert fake.texts() == ["⏰ Reminder: Take the cake out"]  # once, resent under the same key
    assert len(fake.posts) == 2 and fake.posts[0] == fake.posts[1]


async def test_a_live_worker_slow_to_send_keeps_its_claim(
        rt: Runtime, engine: AsyncEngine, redis: RedisSettings, fake: FakeChatPlatform) -> None:
    fake.dedupe = False  # any second send would show
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    user = await platform_user(rt, "bo", "UTC", now - dt.timedelta(hours=1), digest=False)
    await call(rt, user, "create_task", {"title": "Water the plants", "remind_at": (now - dt.timedelta(seconds=5))
                                         .isoformat()}, now - dt.timedelta(hours=1))
    fake.hang = "before"  # the platform is slow to take it; the worker stays alive meanwhile
    proc = await spawn_worker(engine, redis, fake, "--send-timeout", "30")
    try:
        await asyncio.wait_for(fake.arrived.wait(), 30)
        # Another worker that would retake a dead holder's row after 1 s sweeps for 12 s: the holder lives.
        async with running(job_context(rt, fake.url, holder_grace=dt.timedelta(seconds=1)), redis):
            await asyncio.sleep(12)
            assert await _status(rt) == ["sending"] and len(fake.posts) == 1
        fake.release()

        async def sent() -> bool:
            return await _status(rt) == ["sent"]

        await wait_until(sent, within=30)
    finally:
        proc.kill()
        await proc.communicate()
    assert fake.texts() == ["⏰ Reminder: Water the plants"]


async def test_two_worker_processes_deliver_every_notification_exactly_once(
        rt: Runtime, engine: AsyncEngine, redis: RedisSettings, fake: FakeChatPlatform) -> None:
    fake.dedupe = False  # the platform does not save us here: any double send would show
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    earlier = now - dt.timedelta(hours=1)
    users = [await platform_user(rt, f"u{i}", "UTC", earlier, digest=False) for i in range(20)]
    for u in users:
        for k in range(3):
            await call(rt, u, "create_task", {"title": f"Job {k} for {u.name}",
                                              "remind_at": (now - dt.timedelta(seconds=30 - k)).isoformat()}, earlier)
    procs = [await spawn_worker(engine, redis, fake, "--burst", "--step-batch", "4") for _ in range(2)]
    outs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), 60)
    assert [p.returncode for p in procs] == [0, 0], [o[1].decode()[-2000:] for o in outs]
    expected = sorted(f"⏰ Reminder: Job {k} for u{i}" for i in range(20) for k in range(3))
    assert sorted(fake.texts()) == expected
    assert len(fake.posts) == len(set(fake.posts)) == 60
    assert set(await _status(rt)) == {"sent"}
