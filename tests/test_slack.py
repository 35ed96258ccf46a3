"""Slack: the real slack-bolt AsyncApp against a fake Slack (Web API + Socket Mode) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from fakes.slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, TEAM, FakeSlack, signed_headers
from sqlalchemy import select
from test_telegram import free_port

from bots.app import Runtime
from bots.run import run_all
from bots.slack import SlackBot
from core import clock
from core.config import Settings
from core.inbox import Inbox
from core.notify import Router
from core.scheduler import outgoing, step_user
from db.models import Inbound, Notification, Task, User
from tests.chat_support import admit as owners
from tests.chat_support import count, serving

ADA, EVE = "U0ADA", "U0EVE"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = await FakeSlack().start()
    yield server
    await server.stop()


@contextlib.asynccontextmanager
async def running(rt: Runtime, fake: FakeSlack, **kw: Any) -> AsyncIterator[SlackBot]:
    kw.setdefault("app_token", APP_TOKEN)
    bot = SlackBot(Inbox(rt.sessions, rt.assistant), BOT_TOKEN, base_url=fake.base_url, **kw)
    async with serving(bot, (lambda: asyncio.sleep(0.2)) if bot.http else fake.connected):
        yield bot


def admit(rt: Runtime, *users: str) -> None:
    owners(rt, "slack", *(f"{TEAM}/{u}" for u in users))


async def test_a_dm_over_socket_mode_creates_a_task_and_the_reply_arrives(rt: Runtime, fake: FakeSlack) -> None:
    admit(rt, ADA)
    async with running(rt, fake):
        envelope = await fake.envelope("events_api", fake.dm(ADA, "add buy milk tomorrow"))
        await fake.wait_for(lambda: fake.to(f"D{ADA}"))
    assert envelope in fake.acks
    [reply] = fake.to(f"D{ADA}")
    assert reply.text.startswith("Added: Buy milk") and reply.blocks[0]["text"]["type"] == "mrkdwn"
    assert await count(rt, Task) == 1


async def test_a_mention_in_a_channel_is_answered_in_its_thread(rt: Runtime, fake: FakeSlack) -> None:
    admit(rt, ADA)
    async with running(rt, fake):
        body = fake.mention(ADA, "add book flights by friday")
        await fake.envelope("events_api", body)
        await fake.wait_for(lambda: fake.to("C0GENERAL"))
    [reply] = fake.to("C0GENERAL")  # a channel is a public place: a short note there, the details in the DM
    assert reply.text.startswith("Done") and reply.thread_ts == body["event"]["ts"]
    assert fake.to(ADA)[0].text.startswith("Added: Book flights")


async def test_slack_retries_make_one_task_and_one_reply(rt: Runtime, fake: FakeSlack) -> None:
    admit(rt, ADA)
    port = free_port()
    async with running(rt, fake, app_token=None, signing_secret=SIGNING_SECRET, http_port=port, listen="127.0.0.1"):
        raw = json.dumps(fake.dm(ADA, "add renew passport next month", event_id="Ev0RETRY"))
        url = f"http://127.0.0.1:{port}/slack/events"
        async with aiohttp.ClientSession() as http:

            async def deliver(n: int) -> int:
                headers = signed_headers(raw) | ({"x-slack-retry-num": str(n), "x-slack-retry-reason": "http_timeout"}
                                                 if n else {})
                async with http.post(url, data=raw, headers=headers) as resp:
                    return resp.status

            statuses = await asyncio.gather(*(deliver(n) for n in range(4)))
        await fake.wait_for(lambda: fake.to(f"D{ADA}"))
        await asyncio.sleep(0.3)
    assert statuses == [200, 200, 200, 200]
    assert len(fake.to(f"D{ADA}")) == 1 and await count(rt, Task) == 1


async def test_a_bad_signature_or_a_stale_timestamp_is_refused_and_nothing_is_stored(
        rt: Runtime, fake: FakeSlack) -> None:
    admit(rt, ADA)
    port = free_port()
    async with running(rt, fake, app_token=None, signing_secret=SIGNING_SECRET, http_port=port, listen="127.0.0.1"):
        raw = json.dumps(fake.dm(ADA, "add buy milk tomorrow"))
        url = f"http://127.0.0.1:{port}/slack/events"
        async with aiohttp.ClientSession() as http:
            for headers in (signed_headers(raw, secret="not-the-secret"),
                            signed_headers(raw, timestamp=int(time.time()) - 600)):
                async with http.post(url, data=raw, headers=headers) as resp:
                    assert resp.status == 401
        await asyncio.sleep(0.2)
    assert await count(rt, Inbound) == 0 and await count(rt, Task) == 0 and not fake.posted


async def test_the_pixie_slash_command_answers_privately(rt: Runtime, fake: FakeSlack) -> None:
    admit(rt, ADA)
    async with running(rt, fake):
        first = fake.command(ADA, "add call the bank tomorrow")
        await fake.envelope("slash_commands", first)
        await fake.wait_for(lambda: fake.to("respond:" + first["response_url"].rsplit("/", 1)[1]))
        payload = fake.command(ADA, "tasks")
        envelope = await fake.envelope("slash_commands", payload)
        where = "respond:" + payload["response_url"].rsplit("/", 1)[1]
        await fake.wait_for(lambda: fake.to(where))
    assert envelope in fake.acks
    assert fake.to(where)[0].text.startswith("Your tasks (1):")


async def test_a_stranger_is_refused_once(rt: Runtime, fake: FakeSlack) -> None:
    admit(rt, ADA)
    async with running(rt, fake):
        await fake.envelope("events_api", fake.dm(EVE, "add something tomorrow"))
        await fake.envelope("events_api", fake.dm(EVE, "hello?"))
        await fake.wait_for(lambda: fake.to(f"D{EVE}"))
        await asyncio.sleep(0.3)
    [refusal] = fake.to(f"D{EVE}")
    assert f"slack:{TEAM}/{EVE}" in refusal.text and await count(rt, Task) == 0


async def test_reminder_buttons_and_long_replies_and_429(rt: Runtime, fake: FakeSlack) -> None:
    admit(rt, ADA)
    router = Router(rt.sessions)
    async with running(rt, fake) as bot:
        router.register("slack", bot)
        await fake.envelope("events_api", fake.dm(ADA, "remind me to call mom in 2 hours"))
        await fake.wait_for(lambda: fake.to(f"D{ADA}"))
        async with rt.sessions() as s, s.begin():
            user = await s.scalar(select(User))
            await step_user(s, user, dt.datetime.now(clock.UTC) + dt.timedelta(hours=3))
            [note] = [outgoing(n) for n in await s.scalars(select(Notification).where(Notification.kind == "reminder"))]
        fake.fail_next("chat.postMessage", 429)
        started = time.monotonic()
        await router.send(note.user_id, note)
        assert time.monotonic() - started >= 1.0  # Retry-After: 1 was honoured
        reminder = fake.to(f"D{ADA}")[1]
        assert [b["text"]["text"] for b in reminder.buttons] == ["Done", "Snooze 1h"]
        await fake.envelope("interactive", fake.press(ADA, reminder, reminder.buttons[0]))
        await fake.wait_for(lambda: len(fake.to(f"D{ADA}")) == 3)
        assert fake.to(f"D{ADA}")[2].text == "Done: Call mom ✓"
        assert reminder.buttons == []  # chat.update took the buttons off
        async with rt.sessions() as s, s.begin():  # a reply longer than a section block holds
            for i in range(45):
                s.add(Task(user_id=user.id, title=f"#{i:02} <task> & " + "word " * 20,
                           created_at=dt.datetime.now(clock.UTC)))
        await fake.envelope("events_api", fake.dm(ADA, "/tasks"))
        await fake.wait_for(lambda: any("#44" in p.text for p in fake.to(f"D{ADA}")))
    pieces = fake.to(f"D{ADA}")[3:]
    assert len(pieces) >= 2 and all(len(p.blocks[0]["text"]["text"]) <= 3000 for p in pieces)
    assert "&lt;task&gt; &amp;" in pieces[0].text  # mrkdwn-escaped
    async with rt.sessions() as s:
        assert (await s.scalar(select(Task).where(Task.title == "Call mom"))).status == "done"


async def test_pixie_run_starts_the_slack_bot(rt: Runtime, fake: FakeSlack, settings: Settings) -> None:
    configured = settings.model_copy(update={"slack_bot_token": BOT_TOKEN, "slack_app_token": APP_TOKEN,
                                             "slack_api_url": fake.base_url, "owners": f"slack:{TEAM}/{ADA}"})
    task = asyncio.create_task(run_all(rt, configured, lambda _: None, with_worker=False))
    try:
        await fake.connected()
        await fake.envelope("events_api", fake.dm(ADA, "add buy milk tomorrow"))
        await fake.wait_for(lambda: fake.to(f"D{ADA}"))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert fake.to(f"D{ADA}")[0].text.startswith("Added: Buy milk")




async def test_undo_and_yes_no_buttons_under_replies(rt: Runtime, fake: FakeSlack) -> None:
    admit(rt, ADA)
    async with running(rt, fake):
        await fake.envelope("events_api", fake.dm(ADA, "add renew the car tax by friday"))
        await fake.wait_for(lambda: fake.to(f"D{ADA}"))
        added = fake.to(f"D{ADA}")[0]
        assert [b["text"]["text"] for b in added.buttons] == ["↩ Undo"] and await count(rt, Task) == 1
        await fake.envelope("interactive", fake.press(ADA, added, added.buttons[0]))
        await fake.wait_for(lambda: len(fake.to(f"D{ADA}")) == 2)
        assert fake.to(f"D{ADA}")[1].text.startswith("Undone") and await count(rt, Task) == 0

        await fake.envelope("events_api", fake.dm(ADA, "book me a table somewhere nice"))
        await fake.wait_for(lambda: len(fake.to(f"D{ADA}")) == 3)
        asked = fake.to(f"D{ADA}")[2]
        assert [b["text"]["text"] for b in asked.buttons] == ["Yes", "No"] and await count(rt, Task) == 0
        await fake.envelope("interactive", fake.press(ADA, asked, asked.buttons[1]))
        await fake.wait_for(lambda: len(fake.to(f"D{ADA}")) == 4)
        assert "left everything" in fake.to(f"D{ADA}")[3].text and await count(rt, Task) == 0
