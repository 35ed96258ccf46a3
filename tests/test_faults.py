"""Faults: a bot killed between storing a reply and sending it, and a database that goes away."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from fakes.telegram import FakeTelegram
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.app import Runtime
from db.models import Inbound, Task
from tests.chat_support import admit, count
from tests.test_telegram import running

ROOT = Path(__file__).resolve().parent.parent
ADA = 1001


async def spawn_bot(engine: AsyncEngine, fake: FakeTelegram) -> asyncio.subprocess.Process:
    url = engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.telegram_child", "--database-url", url, "--base-url", fake.base_url,
        "--owners", f"telegram:{ADA}", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def test_a_reply_stored_but_not_sent_when_the_bot_is_killed_is_sent_once_after_the_restart(
        rt: Runtime, engine: AsyncEngine, telegram: FakeTelegram) -> None:
    fake = telegram
    admit(rt, "telegram", ADA)
    fake.hold = True  # the reply reaches the platform's door, and the process dies there
    proc = await spawn_bot(engine, fake)
    try:
        fake.user_sends(ADA, "add buy milk tomorrow")
        await asyncio.wait_for(fake.held.wait(), 30)
    finally:
        proc.kill()  # SIGKILL: no handler, no cleanup
        await proc.communicate()
    assert fake.sent == [] and await count(rt, Task) == 1
    async with rt.sessions() as s:  # the turn is taken and its reply waits in the outbox
        [kept] = list(await s.scalars(select(Inbound.reply)))
    assert kept is not None and kept["text"].startswith("Added: Buy milk")

    fake.hold = False
    async with running(rt, fake):  # Telegram serves the unconfirmed update again: a duplicate now
        await fake.wait_for(lambda: fake.to(ADA))
        fake.user_sends(ADA, "/tasks")
        await fake.wait_for(lambda: len(fake.to(ADA)) >= 2)
        await asyncio.sleep(0.3)
    assert [s.text.split(":")[0] for s in fake.to(ADA)] == ["Added", "Your tasks (1)"]
    assert await count(rt, Task) == 1
    async with rt.sessions() as s:  # sent: the outbox is empty and the delivery handled
        assert list(await s.scalars(select(Inbound.reply).where(Inbound.reply.is_not(None)))) == []
