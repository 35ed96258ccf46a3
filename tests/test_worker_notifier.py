"""A standalone `pixie worker` (no bots in its process) delivers through send-only platform clients."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest
from arq.connections import RedisSettings
from fakes.discord import TOKEN as DISCORD_TOKEN
from fakes.discord import FakeDiscord
from fakes.slack import BOT_TOKEN, TEAM, FakeSlack
from fakes.telegram import TOKEN, FakeTelegram
from sqlalchemy import select, update

from bots.app import Runtime
from bots.notifier import WorkerRouter, build_notifier
from core.config import Settings
from db.models import Identity, Notification, User
from jobs.context import JobContext
from tests.conftest import at
from tests.jobs_support import Clock, burst, call, platform_user

ADA, DORA = 1001, 5001


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    server = await FakeSlack().start()
    yield server
    await server.stop()


@pytest.fixture
async def discord_api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    server = await FakeDiscord().start()
    monkeypatch.setattr(discord.http.Route, "BASE", server.api_base)
    yield server
    await server.stop()


async def _user_on(rt: Runtime, name: str, platform: str, platform_user_id: str, chat_id: str | None,
                   clock: Clock) -> User:
    user = await platform_user(rt, name, "Europe/Berlin", clock(), platform=platform, digest=False)
    async with rt.sessions() as session, session.begin():
        await session.execute(update(Identity).where(Identity.user_id == user.id)
                              .values(platform_user_id=platform_user_id, chat_id=chat_id))
    await call(rt, user, "create_task", {"title": f"Call {name}'s mom", "remind_at": "2026-03-27T18:00:00+01:00"},
               clock())
    return user


async def test_a_standalone_worker_delivers_reminders_on_telegram_and_slack_once_with_buttons(
        rt: Runtime, settings: Settings, redis: RedisSettings, telegram: FakeTelegram, slack: FakeSlack) -> None:
    clock = Clock(at("2026-03-27T09:00:00+01:00"))
    await _user_on(rt, "ada", "telegram", str(ADA), str(ADA), clock)
    await _user_on(rt, "sam", "slack", f"{TEAM}/U0SAM", "D0SAM", clock)
    configured = settings.model_copy(update={
        "telegram_bot_token": TOKEN, "telegram_base_url": telegram.base_url,
        "slack_bot_token": BOT_TOKEN, "slack_api_url": slack.base_url})

    notifier = build_notifier(configured, rt.sessions)  # what `pixie worker` builds
    assert isinstance(notifier, WorkerRouter) and set(notifier.senders) == {"telegram", "slack"}
    jc = JobContext(rt.sessions, rt.memory, notifier, now=clock, backoff_base=0.05, send_timeout=5.0)
    async with notifier:
        await burst(jc, redis)
        assert telegram.sent == [] and slack.posted == []  # not due yet, and nothing logged in
        assert telegram.calls == []

        clock.set("2026-03-27T18:00:20+01:00")
        await burst(jc, redis)
        clock.set("2026-03-27T18:05:00+01:00")
        await burst(jc, redis)  # a later pass sends nothing more

    [tg] = telegram.to(ADA)
    assert "Call ada's mom" in tg.text and tg.parse_mode == "HTML"
    [[done, snooze]] = tg.reply_markup["inline_keyboard"]  # type: ignore[index]
    assert (done["text"], snooze["text"]) == ("Done", "Snooze 1h")
    assert done["callback_data"].startswith("done:") and snooze["callback_data"].startswith("snooze:")
    # Send-only: a getMe to log in, then the message; no polling, no webhook change, no commands.
    assert [m for m, _ in telegram.calls] == ["getMe", "sendMessage"]

    [sl] = slack.to("D0SAM")
    assert "Call sam's mom" in sl.text
    assert [b["text"]["text"] for b in sl.buttons] == ["Done", "Snooze 1h"]
    assert [b["value"].split(":")[0] for b in sl.buttons] == ["done", "snooze"]
    assert [m for m, _ in slack.calls] == ["chat.postMessage"]  # no Socket Mode, no events server

    async with rt.sessions() as session:
        rows = list(await session.scalars(select(Notification)))
    assert sorted((r.platform, r.status, r.attempts) for r in rows) == [("slack", "sent", 1), ("telegram", "sent", 1)]


async def test_discord_is_reached_over_rest_without_the_gateway(
        rt: Runtime, settings: Settings, redis: RedisSettings, discord_api: FakeDiscord) -> None:
    clock = Clock(at("2026-03-27T09:00:00+01:00"))
    await _user_on(rt, "dora", "discord", str(DORA), None, clock)
    notifier = build_notifier(settings.model_copy(update={"discord_bot_token": DISCORD_TOKEN}), rt.sessions)
    assert notifier is not None and set(notifier.senders) == {"discord"}
    jc = JobContext(rt.sessions, rt.memory, notifier, now=clock, backoff_base=0.05, send_timeout=5.0)
    clock.set("2026-03-27T18:00:20+01:00")
    async with notifier:
        await burst(jc, redis)
        await burst(jc, redis)

    [sent] = discord_api.sent
    assert sent.channel_id == 7000 + DORA and "Call dora's mom" in sent.content
    assert [b["label"] for b in sent.buttons] == ["Done", "Snooze 1h"]
    [post] = [body for method, path, body in discord_api.calls if method == "POST" and path.endswith("/messages")]
    assert sent.nonce and post["enforce_nonce"]  # the idempotency key: a resend after a crash is not doubled
    assert not discord_api.commands  # no slash commands synced by a worker
    assert not any(path.startswith("gateway") for _, path, _ in discord_api.calls)


def test_no_platform_configured_means_no_notifier(settings: Settings) -> None:
    bare = settings.model_copy(update={"telegram_bot_token": None, "slack_bot_token": None,
                                       "discord_bot_token": None})
    assert build_notifier(bare, None) is None  # type: ignore[arg-type]


async def test_a_user_whose_chosen_platform_is_not_running_is_reached_and_recorded_where_they_are(
        rt: Runtime, settings: Settings, redis: RedisSettings, telegram: FakeTelegram) -> None:
    clock = Clock(at("2026-03-27T09:00:00+01:00"))
    ada = await _user_on(rt, "ada", "telegram", str(ADA), str(ADA), clock)
    async with rt.sessions() as session, session.begin():  # she also has Slack, chosen for her notes
        session.add(Identity(user_id=ada.id, platform="slack", platform_user_id=f"{TEAM}/U0ADA", chat_id="D0ADA",
                             created_at=clock(), last_seen_at=clock()))
        await session.execute(update(User).where(User.id == ada.id).values(digest_platform="slack"))
    configured = settings.model_copy(update={"telegram_bot_token": TOKEN, "telegram_base_url": telegram.base_url})
    notifier = build_notifier(configured, rt.sessions)  # this deployment runs Telegram only
    assert isinstance(notifier, WorkerRouter) and set(notifier.senders) == {"telegram"}
    jc = JobContext(rt.sessions, rt.memory, notifier, now=clock, backoff_base=0.05, send_timeout=5.0)
    async with notifier:
        clock.set("2026-03-27T18:00:20+01:00")
        await burst(jc, redis)
    [tg] = telegram.to(ADA)
    assert "Call ada's mom" in tg.text
    async with rt.sessions() as session:
        [row] = list(await session.scalars(select(Notification)))
    assert (row.platform, row.status) == ("telegram", "sent")  # the outbox says where it really went
