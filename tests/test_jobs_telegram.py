"""The whole path: a reminder set in a Telegram DM is pushed by the worker through the real bot, once."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

from arq.connections import RedisSettings
from fakes.telegram import TOKEN, FakeTelegram
from sqlalchemy import select, update

from bots.app import Runtime
from bots.telegram import TelegramBot
from core import clock
from core.access import parse_owners
from core.inbox import Inbox
from core.notify import Router
from db.models import Task, User
from jobs.context import JobContext
from tests.jobs_support import Clock, burst

ADA = 1001


async def test_a_reminder_from_a_telegram_dm_arrives_there_once_with_buttons_that_work(
        rt: Runtime, redis: RedisSettings, telegram: FakeTelegram) -> None:
    rt.assistant.access.owners = parse_owners(f"telegram:{ADA}")
    bot = TelegramBot(Inbox(rt.sessions, rt.assistant), TOKEN, telegram.base_url, poll_timeout=1)
    task = asyncio.create_task(bot.run())
    try:
        await telegram.wait_for(lambda: telegram.called("setMyCommands"))
        telegram.user_sends(ADA, "remind me to call mom in 2 hours")
        await telegram.wait_for(lambda: len(telegram.to(ADA)) == 1)
        async with rt.sessions() as session, session.begin():  # this story is about the reminder alone:
            await session.execute(update(User).values(digest_time=None, next_digest_at=None))  # no digest

        worker_clock = Clock(dt.datetime.now(clock.UTC) + dt.timedelta(hours=1))
        jc = JobContext(rt.sessions, rt.memory, Router(rt.sessions, {"telegram": bot}), now=worker_clock)
        await burst(jc, redis)
        assert len(telegram.to(ADA)) == 1  # not yet

        worker_clock.value += dt.timedelta(hours=1, minutes=1)
        await burst(jc, redis)
        await burst(jc, redis)  # a second pass sends nothing more
        await telegram.wait_for(lambda: len(telegram.to(ADA)) == 2)
        reminder = telegram.to(ADA)[1]
        assert "Call mom" in reminder.text and "late" not in reminder.text
        [[done, snooze]] = reminder.reply_markup["inline_keyboard"]  # type: ignore[index]
        assert (done["text"], snooze["text"]) == ("Done", "Snooze 1h")

        telegram.user_presses(ADA, reminder, done["callback_data"])
        await telegram.wait_for(lambda: len(telegram.to(ADA)) == 3)
        assert telegram.to(ADA)[2].text == "Done: Call mom ✓"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert len(telegram.to(ADA)) == 3
    async with rt.sessions() as session:
        assert (await session.scalar(select(Task.status))) == "done"
