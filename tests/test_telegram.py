"""Telegram: the real python-telegram-bot against a fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from fakes.telegram import TOKEN, FakeTelegram
from sqlalchemy import select

from bots.app import Runtime
from bots.run import run_all
from bots.telegram import TelegramBot
from core import clock
from core.brain import BrainInput, OfflineBrain, Thought
from core.config import Settings
from core.inbox import Inbox
from core.notify import Router
from core.scheduler import outgoing, step_user
from db.models import Message, Notification, Reminder, Task, User
from tests.chat_support import admit as owners
from tests.chat_support import count, serving

ADA, BOB = 1001, 2002


class SpyBrain(OfflineBrain):
    """The offline brain, counting what reaches it (and optionally slow)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.seen: list[str] = []
        self.delay = delay

    async def think(self, request: BrainInput) -> Thought:
        self.seen.append(request.text)
        await asyncio.sleep(self.delay)
        return await super().think(request)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = await FakeTelegram().start()
    yield server
    await server.stop()


@contextlib.asynccontextmanager
async def running(rt: Runtime, fake: FakeTelegram, **kw: Any) -> AsyncIterator[TelegramBot]:
    bot = TelegramBot(Inbox(rt.sessions, rt.assistant), TOKEN, fake.base_url, poll_timeout=1, **kw)
    async with serving(bot, lambda: fake.wait_for(lambda: fake.called("setMyCommands"))):
        yield bot


def admit(rt: Runtime, *ids: int) -> None:
    owners(rt, "telegram", *ids)


async def test_a_dm_creates_a_task_and_the_reply_arrives_in_html(rt: Runtime, fake: FakeTelegram) -> None:
    admit(rt, ADA)
    async with running(rt, fake):
        fake.user_sends(ADA, "add buy milk tomorrow")
        await fake.wait_for(lambda: fake.to(ADA))
    [reply] = fake.to(ADA)
    assert reply.text.startswith("Added: Buy milk") and "tomorrow" in reply.text
    assert reply.parse_mode == "HTML"
    assert await count(rt, Task) == 1
    commands = fake.called("setMyCommands")[0]["commands"]
    assert {"start", "tasks", "today", "help"} <= {c["command"] for c in commands}


async def test_duplicate_updates_make_one_task_and_one_reply(rt: Runtime, fake: FakeTelegram) -> None:
    admit(rt, ADA)
    async with running(rt, fake):
        update = fake.user_sends(ADA, "add call the plumber tomorrow")
        fake.push(update)  # Telegram serves the same update twice (same batch)
        await fake.wait_for(lambda: fake.to(ADA))
        fake.push(update)  # … and once more later, as after a crash before the offset moved
        fake.user_sends(ADA, "/tasks")
        await fake.wait_for(lambda: len(fake.to(ADA)) >= 2)
        await asyncio.sleep(0.2)
    assert [s.text.split(":")[0] for s in fake.to(ADA)] == ["Added", "Your tasks (1)"]
    assert await count(rt, Task) == 1


async def test_a_stranger_gets_one_polite_refusal_and_nothing_reaches_a_brain(
        rt: Runtime, fake: FakeTelegram) -> None:
    spy = SpyBrain()
    rt.assistant.brain = spy
    admit(rt, ADA)
    async with running(rt, fake):
        fake.user_sends(BOB, "add steal the secrets tomorrow")
        fake.user_sends(BOB, "hello?? remember my number is 555")
        fake.user_sends(ADA, "hi")
        await fake.wait_for(lambda: fake.to(ADA) and fake.to(BOB))
        await asyncio.sleep(0.2)
    [refusal] = fake.to(BOB)
    assert "private assistant" in refusal.text and f"telegram:{BOB}" in refusal.text
    assert spy.seen == ["hi"]
    assert await count(rt, Task) == 0
    async with rt.sessions() as s:  # nothing of the stranger's is kept
        texts = list(await s.scalars(select(Message.text)))
    assert not any("secrets" in t or "555" in t for t in texts)


async def test_the_pairing_code_makes_the_first_owner_who_can_admit_others(rt: Runtime, fake: FakeTelegram) -> None:
    async with rt.sessions() as s, s.begin():
        code = await rt.assistant.access.pairing_code(s, dt.datetime.now(clock.UTC))
    assert code
    async with running(rt, fake):
        fake.user_sends(ADA, f"/start {code}")
        await fake.wait_for(lambda: fake.to(ADA))
        assert "owner" in fake.to(ADA)[0].text
        fake.user_sends(BOB, f"/start {code}")  # used once: Bob is refused
        await fake.wait_for(lambda: fake.to(BOB))
        assert "private assistant" in fake.to(BOB)[0].text
        fake.user_sends(ADA, f"/admit telegram:{BOB}")
        await fake.wait_for(lambda: len(fake.to(ADA)) == 2)
        fake.user_sends(BOB, "add water the plants tomorrow")
        await fake.wait_for(lambda: len(fake.to(BOB)) == 2)
    assert fake.to(BOB)[1].text.startswith("Added: Water the plants")
    async with rt.sessions() as s:
        roles = sorted(await s.scalars(select(User.role)))
    assert roles == ["member", "owner"]


async def test_long_replies_are_split_under_4096_utf16_units_with_valid_html(rt: Runtime, fake: FakeTelegram) -> None:
    admit(rt, ADA)
    async with running(rt, fake):
        fake.user_sends(ADA, "hi")
        await fake.wait_for(lambda: fake.to(ADA))
        async with rt.sessions() as s, s.begin():  # 40 tasks whose titles are full of emoji and HTML specials
            user = await s.scalar(select(User))
            for i in range(40):
                s.add(Task(user_id=user.id, title=f"#{i:02} 🎉🧪 <b>fix</b> & “quote” " + "x&<>" * 25,
                           created_at=dt.datetime.now(clock.UTC)))
        fake.user_sends(ADA, "/tasks")
        await fake.wait_for(lambda: any("#39" in s.text for s in fake.to(ADA)))
    pieces = fake.to(ADA)[1:]
    assert len(pieces) >= 2
    body = "\n".join(p.text for p in pieces)
    assert all(f"#{i:02} 🎉🧪 <b>fix</b> & “quote”" in body for i in range(40))  # escaped, so shown literally
    assert body.index("#00") < body.index("#39")


async def test_reminder_buttons_done_and_snooze_work(rt: Runtime, fake: FakeTelegram) -> None:
    admit(rt, ADA)
    router = Router(rt.sessions)
    async with running(rt, fake) as bot:
        router.register("telegram", bot)
        fake.user_sends(ADA, "remind me to call mom in 2 hours")
        fake.user_sends(ADA, "remind me to pay rent in 2 hours")
        await fake.wait_for(lambda: len(fake.to(ADA)) == 2)
        later = dt.datetime.now(clock.UTC) + dt.timedelta(hours=3)
        async with rt.sessions() as s, s.begin():
            user = await s.scalar(select(User))
            await step_user(s, user, later)
            reminders = select(Notification).where(Notification.kind == "reminder")  # the digest may be due too
            notes = [outgoing(n) for n in await s.scalars(reminders.order_by(Notification.text))]
        for note in notes:
            await router.send(note.user_id, note)
        await fake.wait_for(lambda: len(fake.to(ADA)) == 4)
        call_mom, pay_rent = fake.to(ADA)[2:]
        assert "Call mom" in call_mom.text and call_mom.reply_markup
        [[done, snooze]] = call_mom.reply_markup["inline_keyboard"]
        assert (done["text"], snooze["text"]) == ("Done", "Snooze 1h")
        fake.user_presses(ADA, call_mom, done["callback_data"])
        await fake.wait_for(lambda: len(fake.to(ADA)) == 5)
        assert fake.to(ADA)[4].text == "Done: Call mom ✓"
        assert call_mom.reply_markup is None  # the buttons went away
        fake.user_presses(ADA, pay_rent, pay_rent.reply_markup["inline_keyboard"][0][1]["callback_data"])
        await fake.wait_for(lambda: len(fake.to(ADA)) == 6)
        assert fake.to(ADA)[5].text.startswith("Snoozed")
    assert len(fake.called("answerCallbackQuery")) == 2
    async with rt.sessions() as s:
        tasks = {t.title: t for t in await s.scalars(select(Task))}
        pending = list(await s.scalars(select(Reminder).where(Reminder.status == "pending")))
    assert tasks["Call mom"].status == "done" and tasks["Pay rent"].status == "open"
    [r] = pending
    assert r.task_id == tasks["Pay rent"].id
    assert abs((r.remind_at - dt.datetime.now(clock.UTC)).total_seconds() - 3600) < 120


async def test_429_is_honoured_with_its_retry_after(rt: Runtime, fake: FakeTelegram) -> None:
    admit(rt, ADA)
    async with running(rt, fake):
        fake.fail_next("sendMessage", 429, retry_after=1)
        started = time.monotonic()
        fake.user_sends(ADA, "add buy milk tomorrow")
        await fake.wait_for(lambda: fake.to(ADA))
    assert time.monotonic() - started >= 0.9
    assert len(fake.called("sendMessage")) == 2 and len(fake.to(ADA)) == 1


async def test_a_typing_indicator_shows_while_pixie_thinks(rt: Runtime, fake: FakeTelegram) -> None:
    admit(rt, ADA)
    rt.assistant.brain = SpyBrain(delay=0.6)
    async with running(rt, fake):
        fake.user_sends(ADA, "add buy milk tomorrow")
        await fake.wait_for(lambda: fake.to(ADA))
    [action] = fake.called("sendChatAction")
    assert action["action"] == "typing" and int(action["chat_id"]) == ADA


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_webhook_refuses_a_wrong_secret_token(rt: Runtime, fake: FakeTelegram) -> None:
    admit(rt, ADA)
    port = free_port()
    async with running(rt, fake, webhook_url="https://example.invalid/tg/hook", webhook_secret="s3cret",
                       listen="127.0.0.1", port=port):
        await fake.wait_for(lambda: fake.webhook is not None)
        assert fake.webhook["secret_token"] == "s3cret"
        update = {"update_id": 77, "message": {"message_id": 1, "date": int(time.time()),
                                               "text": "add buy milk tomorrow", "chat": {"id": ADA, "type": "private"},
                                               "from": {"id": ADA, "is_bot": False, "first_name": "Ada"}}}
        url = f"http://127.0.0.1:{port}/tg/hook"
        async with aiohttp.ClientSession() as http:
            for secret in ("wrong", None):
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
                async with http.post(url, json=update, headers=headers) as resp:
                    assert resp.status == 403
            assert await count(rt, Task) == 0
            async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"}) as resp:
                assert resp.status == 200
            await fake.wait_for(lambda: fake.to(ADA))
    assert fake.to(ADA)[0].text.startswith("Added: Buy milk")


async def test_pixie_run_starts_the_telegram_bot(rt: Runtime, fake: FakeTelegram, settings: Settings) -> None:
    configured = settings.model_copy(update={"telegram_bot_token": TOKEN, "telegram_base_url": fake.base_url,
                                             "owners": f"telegram:{ADA}"})
    said: list[str] = []
    task = asyncio.create_task(run_all(rt, configured, said.append, with_worker=False))
    try:
        fake.user_sends(ADA, "add buy milk tomorrow")
        await fake.wait_for(lambda: fake.to(ADA))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert fake.to(ADA)[0].text.startswith("Added: Buy milk")
    assert any("Running: telegram" in line for line in said)
    assert not any("Pairing code" in line for line in said)  # PIXIE_OWNERS set: the owner exists on first message


async def test_pixie_run_prints_a_pairing_code_that_makes_the_first_owner(
        rt: Runtime, fake: FakeTelegram, settings: Settings) -> None:
    configured = settings.model_copy(update={"telegram_bot_token": TOKEN, "telegram_base_url": fake.base_url,
                                             "owners": ""})
    said: list[str] = []
    task = asyncio.create_task(run_all(rt, configured, said.append, with_worker=False))
    try:
        await fake.wait_for(lambda: any("Pairing code" in line for line in said))
        [line] = [x for x in said if "Pairing code" in x]
        code = line.split("Pairing code: ")[1].split()[0]
        fake.user_sends(ADA, f"/start {code}")
        await fake.wait_for(lambda: fake.to(ADA))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert fake.to(ADA)[0].text.startswith("Paired")


async def test_an_update_stored_but_not_answered_before_a_crash_is_answered_on_restart(
        rt: Runtime, fake: FakeTelegram) -> None:
    from core.types import IncomingMessage

    admit(rt, ADA)
    inbox = Inbox(rt.sessions, rt.assistant)  # the last run stored (and so confirmed) it, then died
    msg = IncomingMessage("telegram", str(ADA), "add renew the passport tomorrow", chat_id=str(ADA),
                          message_id="5550")
    assert await inbox.accept("5550", msg, str(ADA))
    async with running(rt, fake):
        await fake.wait_for(lambda: fake.to(ADA))
    assert fake.to(ADA)[0].text.startswith("Added: Renew the passport")
    assert not await inbox.unhandled("telegram")


async def test_undo_and_yes_no_buttons_under_replies(rt: Runtime, fake: FakeTelegram) -> None:
    admit(rt, ADA)
    async with running(rt, fake):
        fake.user_sends(ADA, "add renew the car tax by friday")
        await fake.wait_for(lambda: fake.to(ADA))
        added = fake.to(ADA)[0]
        [[undo]] = added.reply_markup["inline_keyboard"]
        assert undo["text"] == "↩ Undo" and await count(rt, Task) == 1
        fake.user_presses(ADA, added, undo["callback_data"])
        await fake.wait_for(lambda: len(fake.to(ADA)) == 2)
        assert fake.to(ADA)[1].text.startswith("Undone") and await count(rt, Task) == 0
        assert added.reply_markup is None  # pressed once: the button went away

        fake.user_sends(ADA, "book me a table somewhere nice")  # a guess: asked, not written
        await fake.wait_for(lambda: len(fake.to(ADA)) == 3)
        asked = fake.to(ADA)[2]
        [yes], [no] = asked.reply_markup["inline_keyboard"]
        assert (yes["text"], no["text"]) == ("Yes", "No") and await count(rt, Task) == 0
        fake.user_presses(ADA, asked, yes["callback_data"])
        await fake.wait_for(lambda: len(fake.to(ADA)) == 4)
        assert await count(rt, Task) == 1
        fake.user_presses(ADA, asked, yes["callback_data"])  # a second press of the same question
        await fake.wait_for(lambda: len(fake.to(ADA)) == 5)
        assert "already answered" in fake.to(ADA)[4].text and await count(rt, Task) == 1
