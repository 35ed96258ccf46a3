"""Discord: the real discord.py (REST + gateway) against a fake Discord on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import discord
import pytest
from fakes.discord import TOKEN, FakeDiscord
from sqlalchemy import select

from bots.app import Runtime
from bots.discord import DiscordBot
from bots.run import run_all
from core import clock
from core.config import Settings
from core.inbox import Inbox
from core.notify import Router
from core.scheduler import outgoing, step_user
from db.models import Inbound, Notification, Task, User
from tests.chat_support import admit as owners
from tests.chat_support import count, serving

ROOT = Path(__file__).resolve().parent.parent
ADA, EVE = 501, 502
DM_ADA = 7000 + ADA


@pytest.fixture
def restore_discord_urls() -> Iterator[None]:
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


@pytest.fixture
async def fake(restore_discord_urls: None) -> AsyncIterator[FakeDiscord]:
    server = await FakeDiscord().start()
    yield server
    await server.stop()


@contextlib.asynccontextmanager
async def running(rt: Runtime, fake: FakeDiscord) -> AsyncIterator[DiscordBot]:
    bot = DiscordBot(Inbox(rt.sessions, rt.assistant), TOKEN, api_base=fake.api_base, gateway=fake.gateway)
    async with serving(bot, fake.connected):
        yield bot


def admit(rt: Runtime, *ids: int) -> None:
    owners(rt, "discord", *ids)


async def test_a_dm_creates_a_task_and_a_replayed_message_changes_nothing(rt: Runtime, fake: FakeDiscord) -> None:
    admit(rt, ADA)
    async with running(rt, fake):
        message = fake.dm(ADA, "add buy milk tomorrow")
        await fake.dispatch("MESSAGE_CREATE", message)
        await fake.wait_for(lambda: fake.to(DM_ADA))
        await fake.dispatch("MESSAGE_CREATE", message)  # a replay after a resume
        await fake.dispatch("MESSAGE_CREATE", fake.dm(ADA, "/tasks"))
        await fake.wait_for(lambda: len(fake.to(DM_ADA)) >= 2)
        await asyncio.sleep(0.2)
    assert [s.content.split(":")[0] for s in fake.to(DM_ADA)] == ["Added", "Your tasks (1)"]
    assert await count(rt, Task) == 1
    assert {"tasks", "today", "help", "link", "pixie"} <= {c["name"] for c in fake.commands}


async def test_a_mention_in_a_server_is_answered_and_a_stranger_refused_once(rt: Runtime, fake: FakeDiscord) -> None:
    admit(rt, ADA)
    async with running(rt, fake):
        await fake.dispatch("MESSAGE_CREATE", fake.dm(ADA, "chatting with friends", guild=True))  # not for Pixie
        await fake.dispatch("MESSAGE_CREATE", fake.dm(ADA, "add book flights by friday", guild=True, mention=True))
        await fake.wait_for(lambda: fake.to(8000))
        await fake.dispatch("MESSAGE_CREATE", fake.dm(EVE, "add something tomorrow"))
        await fake.dispatch("MESSAGE_CREATE", fake.dm(EVE, "hello?"))
        await fake.wait_for(lambda: fake.to(7000 + EVE))
        await asyncio.sleep(0.2)
    [reply] = fake.to(8000)  # a server channel is a public place: a short note there, the details in the DM
    assert reply.content.startswith("Done") and fake.to(DM_ADA)[0].content.startswith("Added: Book flights")
    [refusal] = fake.to(7000 + EVE)
    assert f"discord:{EVE}" in refusal.content and await count(rt, Task) == 1


async def test_slash_commands_answer_as_follow_ups(rt: Runtime, fake: FakeDiscord) -> None:
    admit(rt, ADA)
    async with running(rt, fake):
        await fake.wait_for(lambda: fake.commands)
        await fake.dispatch("INTERACTION_CREATE", fake.slash(ADA, "pixie", {"text": "add call the bank tomorrow"}))
        await fake.wait_for(lambda: fake.to(DM_ADA))
        await fake.dispatch("INTERACTION_CREATE", fake.slash(ADA, "tasks"))
        await fake.wait_for(lambda: len(fake.to(DM_ADA)) == 2)
    assert fake.to(DM_ADA)[0].content.startswith("Added: Call the bank")
    assert fake.to(DM_ADA)[1].content.startswith("Your tasks (1):")
    assert len(fake.called("POST", "/callback")) == 2  # each acknowledged (deferred) at once


async def test_reminder_buttons_long_replies_and_429(rt: Runtime, fake: FakeDiscord) -> None:
    admit(rt, ADA)
    router = Router(rt.sessions)
    async with running(rt, fake) as bot:
        router.register("discord", bot)
        await fake.dispatch("MESSAGE_CREATE", fake.dm(ADA, "remind me to call mom in 2 hours"))
        await fake.wait_for(lambda: fake.to(DM_ADA))
        async with rt.sessions() as s, s.begin():
            user = await s.scalar(select(User))
            await step_user(s, user, dt.datetime.now(clock.UTC) + dt.timedelta(hours=3))
            [note] = [outgoing(n) for n in await s.scalars(select(Notification).where(Notification.kind == "reminder"))]
        fake.fail_next(f"channels/{DM_ADA}/messages")  # 429: discord.py waits retry_after and retries
        await router.send(note.user_id, note)
        await router.send(note.user_id, note)  # the worker resending in doubt: the nonce keeps it single
        reminder = fake.to(DM_ADA)[1]
        assert len(fake.to(DM_ADA)) == 2 and reminder.nonce
        assert [b["label"] for b in reminder.buttons] == ["Done", "Snooze 1h"]
        await fake.dispatch("INTERACTION_CREATE", fake.press(ADA, reminder, reminder.buttons[1]))
        await fake.wait_for(lambda: len(fake.to(DM_ADA)) == 3)
        assert fake.to(DM_ADA)[2].content.startswith("Snoozed")
        assert reminder.components == []  # the buttons went away
        async with rt.sessions() as s, s.begin():
            for i in range(30):
                s.add(Task(user_id=user.id, title=f"#{i:02} **bold** _x_ " + "word " * 15,
                           created_at=dt.datetime.now(clock.UTC)))
        await fake.dispatch("MESSAGE_CREATE", fake.dm(ADA, "/tasks"))
        await fake.wait_for(lambda: any("#29" in s.content for s in fake.to(DM_ADA)))
    pieces = fake.to(DM_ADA)[3:]
    assert len(pieces) >= 2 and all(len(p.content) <= 2000 for p in pieces)
    assert r"\*\*bold\*\*" in pieces[0].content  # shown as typed, not as formatting
    assert len(fake.called("POST", f"channels/{DM_ADA}/messages")) >= 4


async def test_a_typing_indicator_is_sent_while_pixie_thinks(rt: Runtime, fake: FakeDiscord) -> None:
    from test_telegram import SpyBrain

    admit(rt, ADA)
    rt.assistant.brain = SpyBrain(delay=0.6)
    async with running(rt, fake):
        await fake.dispatch("MESSAGE_CREATE", fake.dm(ADA, "add buy milk tomorrow"))
        await fake.wait_for(lambda: fake.to(DM_ADA))
    assert fake.called("POST", f"channels/{DM_ADA}/typing")


async def test_pixie_run_starts_the_discord_bot(rt: Runtime, fake: FakeDiscord, settings: Settings) -> None:
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = discord.gateway.yarl.URL(fake.gateway)
    configured = settings.model_copy(update={"discord_bot_token": TOKEN, "owners": f"discord:{ADA}"})
    task = asyncio.create_task(run_all(rt, configured, lambda _: None, with_worker=False))
    try:
        await fake.connected()
        await fake.dispatch("MESSAGE_CREATE", fake.dm(ADA, "add buy milk tomorrow"))
        await fake.wait_for(lambda: fake.to(DM_ADA))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert fake.to(DM_ADA)[0].content.startswith("Added: Buy milk")


async def test_undo_and_yes_no_buttons_under_replies(rt: Runtime, fake: FakeDiscord) -> None:
    admit(rt, ADA)
    async with running(rt, fake):
        await fake.dispatch("MESSAGE_CREATE", fake.dm(ADA, "add renew the car tax by friday"))
        await fake.wait_for(lambda: fake.to(DM_ADA))
        added = fake.to(DM_ADA)[0]
        assert [b["label"] for b in added.buttons] == ["↩ Undo"] and await count(rt, Task) == 1
        await fake.dispatch("INTERACTION_CREATE", fake.press(ADA, added, added.buttons[0]))
        await fake.wait_for(lambda: len(fake.to(DM_ADA)) == 2)
        assert fake.to(DM_ADA)[1].content.startswith("Undone") and await count(rt, Task) == 0

        await fake.dispatch("MESSAGE_CREATE", fake.dm(ADA, "book me a table somewhere nice"))
        await fake.wait_for(lambda: len(fake.to(DM_ADA)) == 3)
        asked = fake.to(DM_ADA)[2]
        assert [b["label"] for b in asked.buttons] == ["Yes", "No"] and await count(rt, Task) == 0
        await fake.dispatch("INTERACTION_CREATE", fake.press(ADA, asked, asked.buttons[0]))
        await fake.wait_for(lambda: len(fake.to(DM_ADA)) == 4)
        assert await count(rt, Task) == 1


async def test_a_reply_discord_took_before_the_bot_was_killed_is_not_posted_twice_after_the_restart(
        rt: Runtime, engine: Any, fake: FakeDiscord) -> None:
    admit(rt, ADA)
    fake.hold = True  # Discord stores the reply, and the process dies before it hears so
    url = engine.url.render_as_string(hide_password=False)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.discord_child", "--database-url", url, "--api-base", fake.api_base,
        "--gateway", fake.gateway, "--owners", f"discord:{ADA}", cwd=ROOT,
        env={**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await fake.connected(30)
        await fake.dispatch("MESSAGE_CREATE", fake.dm(ADA, "add buy milk tomorrow"))
        await asyncio.wait_for(fake.held.wait(), 30)
    finally:
        proc.kill()  # SIGKILL: the reply is posted, and never marked sent
        await proc.communicate()
    [first] = fake.to(DM_ADA)
    assert first.content.startswith("Added: Buy milk") and first.nonce

    fake.hold = False
    async with running(rt, fake):  # the restart sends the stored reply again, with the same nonce
        await fake.wait_for(lambda: len(fake.called("POST", f"channels/{DM_ADA}/messages")) >= 2)
        await fake.dispatch("MESSAGE_CREATE", fake.dm(ADA, "/tasks"))
        await fake.wait_for(lambda: len(fake.to(DM_ADA)) >= 2)
        await asyncio.sleep(0.3)
    resent = fake.called("POST", f"channels/{DM_ADA}/messages")[1]
    assert resent["nonce"] == first.nonce and resent["enforce_nonce"]  # Discord returned the first message
    assert [s.content.split(":")[0] for s in fake.to(DM_ADA)] == ["Added", "Your tasks (1)"]
    assert await count(rt, Task) == 1
    async with rt.sessions() as s:  # marked sent after the restart: nothing waits in the outbox
        assert list(await s.scalars(select(Inbound.reply).where(Inbound.reply.is_not(None)))) == []


async def test_replies_to_different_messages_never_share_a_nonce(rt: Runtime, fake: FakeDiscord) -> None:
    admit(rt, ADA)
    async with running(rt, fake):
        for text in ("add call mom", "add call dad", "/tasks"):
            await fake.dispatch("MESSAGE_CREATE", fake.dm(ADA, text))
        await fake.wait_for(lambda: len(fake.to(DM_ADA)) >= 3)
    nonces = [s.nonce for s in fake.to(DM_ADA)]
    assert len(set(nonces)) == 3 and all(nonces)
    assert [s.content.split(":")[0] for s in fake.to(DM_ADA)] == ["Added", "Added", "Your tasks (2)"]


async def test_a_slash_command_whose_text_option_comes_as_a_number_is_answered(rt: Runtime, fake: FakeDiscord) -> None:
    admit(rt, ADA)
    async with running(rt, fake):
        await fake.wait_for(lambda: fake.commands)
        command = fake.slash(ADA, "pixie", {"text": "x"})
        command["data"]["options"] = [{"name": "text", "type": 4, "value": 42}]  # a stale or odd client's option
        await fake.dispatch("INTERACTION_CREATE", command)
        await fake.wait_for(lambda: fake.sent)
    assert fake.sent[0].content and "went wrong" not in fake.sent[0].content
