"""What a user gets from delivery: a morning digest with a Done button per task, on the platform they chose.

The real adapters (python-telegram-bot, slack-bolt, discord.py) run against the fakes on 127.0.0.1 and
are registered in one Router, as `pixie run` registers them; the real arq worker (burst, on the real
Redis) queues the digest from Postgres and delivers it through them. Presses come back through the
fakes as the platforms send them (a callback_query, an interactive payload, a component interaction).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator

import discord
import pytest
from arq.connections import RedisSettings
from sqlalchemy import func, select

from bots.app import Runtime
from bots.discord import DiscordBot
from bots.slack import SlackBot
from bots.telegram import TelegramBot
from core import clock
from core.inbox import Inbox
from core.notify import Router
from db.models import Identity, Notification, Task, User
from jobs.context import JobContext
from tests.chat_support import serving
from tests.fakes.discord import TOKEN as DISCORD_TOKEN
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN, TEAM, FakeSlack
from tests.fakes.telegram import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram import FakeTelegram
from tests.jobs_support import Clock, burst, call

TG_ADA, SLACK_ADA, DISCORD_ADA = 1001, "U0ADA", 501
TG_BEA, SLACK_BEA = 1002, "U0BEA"
ZONE = "Europe/Berlin"
MIDNIGHT = dt.time(0, 0)  # the digest slot of "today" has always passed, whenever the suite runs


# ---------------------------------------------------------------- the platforms, as `pixie run` runs them

@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    server = await FakeSlack().start()
    yield server
    await server.stop()


@pytest.fixture
async def discord_api() -> AsyncIterator[FakeDiscord]:
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    server = await FakeDiscord().start()
    yield server
    await server.stop()
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway  # per process


@contextlib.asynccontextmanager
async def platforms(rt: Runtime, telegram: FakeTelegram | None = None, slack: FakeSlack | None = None,
                    discord_api: FakeDiscord | None = None) -> AsyncIterator[Router]:
    """The bots for the given fakes, receiving and sending, and the Router the worker delivers through."""
    inbox = Inbox(rt.sessions, rt.assistant)
    router = Router(rt.sessions)
    async with contextlib.AsyncExitStack() as stack:
        if telegram is not None:
            tg = TelegramBot(inbox, TELEGRAM_TOKEN, telegram.base_url, poll_timeout=1)
            await stack.enter_async_context(serving(tg, lambda: telegram.wait_for(
                lambda: telegram.called("deleteWebhook"))))
            router.register("telegram", tg)
        if slack is not None:
            sl = SlackBot(inbox, BOT_TOKEN, app_token=APP_TOKEN, base_url=slack.base_url)
            await stack.enter_async_context(serving(sl, slack.connected))
            router.register("slack", sl)
        if discord_api is not None:
            dc = DiscordBot(inbox, DISCORD_TOKEN, api_base=discord_api.api_base, gateway=discord_api.gateway)
            await stack.enter_async_context(serving(dc, discord_api.connected))
            router.register("discord", dc)
        yield router


async def morning(rt: Runtime, router: Router, redis: RedisSettings) -> None:
    """The worker wakes when the digest comes due: it queues the digest and delivers it, then stops.

    Choosing a platform in chat moves the next digest to the next slot (midnight), so the clock goes there.
    """
    async with rt.sessions() as session:
        due = await session.scalar(select(func.max(User.next_digest_at)))
    now = max(dt.datetime.now(clock.UTC), (due or dt.datetime.min.replace(tzinfo=clock.UTC)) + dt.timedelta(seconds=1))
    jc = JobContext(rt.sessions, rt.memory, router, now=Clock(now), backoff_base=0.05, send_timeout=5.0)
    await burst(jc, redis)


async def next_second() -> None:
    """Wait for the next whole second: Telegram dates a message to the second, the others to the instant."""
    await asyncio.sleep(1.01 - time.time() % 1)


# ---------------------------------------------------------------- people and their day

async def person(rt: Runtime, name: str, accounts: dict[str, tuple[str, str]]) -> User:
    """Someone known on each platform of `accounts` (platform → user id, DM chat), their digest due now."""
    now = dt.datetime.now(clock.UTC)
    long_ago = now - dt.timedelta(days=30)
    async with rt.sessions() as session, session.begin():
        user = User(name=name, tz=ZONE, digest_time=MIDNIGHT, created_at=long_ago,
                    next_digest_at=now - dt.timedelta(minutes=1))
        session.add(user)
        await session.flush()
        for platform, (platform_user_id, chat_id) in accounts.items():
            session.add(Identity(user_id=user.id, platform=platform, platform_user_id=platform_user_id,
                                 chat_id=chat_id, created_at=long_ago))
    return user


async def their_day(rt: Runtime, user: User) -> dict[str, str]:
    """Two tasks to do today (one overdue) and one for next week: title → task id."""
    now = dt.datetime.now(clock.UTC)
    today = now.astimezone(clock.zone(ZONE)).date()
    ids = {}
    for title, due in (("Pay rent", today), ("Return library books", today - dt.timedelta(days=2)),
                       ("Book flights", today + dt.timedelta(days=7))):
        result = await call(rt, user, "create_task", {"title": title, "due": due.isoformat()}, now)
        ids[title] = result["task_id"]
    return ids


async def statuses(rt: Runtime) -> dict[str, tuple[str, dt.datetime | None]]:
    """title → (status, completed_at) of every task."""
    async with rt.sessions() as session:
        return {t.title: (t.status, t.completed_at) for t in await session.scalars(select(Task))}


async def digests_sent(rt: Runtime) -> list[tuple[str | None, str]]:
    """(platform, status) of every digest the outbox holds."""
    async with rt.sessions() as session:
        return [(n.platform, n.status) for n in await session.scalars(
            select(Notification).where(Notification.kind == "digest"))]


def done_buttons(ids: dict[str, str]) -> list[tuple[str, str]]:
    """(label, "done:<task id>") of the buttons a digest should carry: what is due today or overdue."""
    overdue_first = ("Return library books", "Pay rent")
    return [(f"✓ {title}", f"done:{ids[title]}") for title in overdue_first]


async def done_once(rt: Runtime, before: dict[str, tuple[str, dt.datetime | None]]) -> None:
    """After a press of "Pay rent" (and a second one): that task alone is done, done once."""
    after = await statuses(rt)
    assert after["Pay rent"][0] == "done" and after["Pay rent"][1] is not None
    assert {t: s for t, (s, _) in after.items() if t != "Pay rent"} == {"Return library books": "open",
                                                                         "Book flights": "open"}
    assert {t: v for t, v in after.items() if t != "Pay rent"} == {t: v for t, v in before.items() if t != "Pay rent"}


# ---------------------------------------------------------------- the digest's Done buttons

async def test_a_telegram_digest_has_a_done_button_per_task_due_and_pressing_it_twice_does_it_once(
        rt: Runtime, redis: RedisSettings, telegram: FakeTelegram) -> None:
    ada = await person(rt, "Ada", {"telegram": (str(TG_ADA), str(TG_ADA))})
    ids = await their_day(rt, ada)
    before = await statuses(rt)
    async with platforms(rt, telegram=telegram) as router:
        await morning(rt, router, redis)
        [digest] = telegram.to(TG_ADA)
        assert "Good morning" in digest.text and "Pay rent" in digest.text and "Return library books" in digest.text
        keyboard = digest.reply_markup["inline_keyboard"]  # type: ignore[index]
        assert [(b["text"], b["callback_data"]) for row in keyboard for b in row] == done_buttons(ids)
        assert all(len(row) == 1 for row in keyboard)  # one task per row: each title readable

        telegram.user_presses(TG_ADA, digest, f"done:{ids['Pay rent']}")
        await telegram.wait_for(lambda: len(telegram.to(TG_ADA)) == 2)
        assert telegram.to(TG_ADA)[1].text == "Done: Pay rent ✓"
        first = await statuses(rt)
        telegram.user_presses(TG_ADA, digest, f"done:{ids['Pay rent']}")  # a second tap, before the first landed
        await telegram.wait_for(lambda: len(telegram.to(TG_ADA)) == 3)
        assert telegram.to(TG_ADA)[2].text == "“Pay rent” was already done."
    assert len(telegram.to(TG_ADA)) == 3
    await done_once(rt, before)
    assert await statuses(rt) == first
    assert await digests_sent(rt) == [("telegram", "sent")]


async def test_a_slack_digest_has_a_done_button_per_task_due_and_pressing_it_twice_does_it_once(
        rt: Runtime, redis: RedisSettings, slack: FakeSlack) -> None:
    ada = await person(rt, "Ada", {"slack": (f"{TEAM}/{SLACK_ADA}", f"D{SLACK_ADA}")})
    ids = await their_day(rt, ada)
    before = await statuses(rt)
    async with platforms(rt, slack=slack) as router:
        await morning(rt, router, redis)
        [digest] = slack.to(f"D{SLACK_ADA}")
        assert "Good morning" in digest.text and "Pay rent" in digest.text
        assert [(b["text"]["text"], b["value"]) for b in digest.buttons] == done_buttons(ids)
        pay_rent = digest.buttons[1]

        await slack.envelope("interactive", slack.press(SLACK_ADA, digest, pay_rent))
        await slack.wait_for(lambda: len(slack.to(f"D{SLACK_ADA}")) == 2)
        assert slack.to(f"D{SLACK_ADA}")[1].text == "Done: Pay rent ✓"
        first = await statuses(rt)
        await slack.envelope("interactive", slack.press(SLACK_ADA, digest, pay_rent))
        await slack.wait_for(lambda: len(slack.to(f"D{SLACK_ADA}")) == 3)
        assert slack.to(f"D{SLACK_ADA}")[2].text == "“Pay rent” was already done."
    await done_once(rt, before)
    assert await statuses(rt) == first
    assert await digests_sent(rt) == [("slack", "sent")]


async def test_a_discord_digest_has_a_done_button_per_task_due_and_pressing_it_twice_does_it_once(
        rt: Runtime, redis: RedisSettings, discord_api: FakeDiscord) -> None:
    dm = 7000 + DISCORD_ADA  # the fake's DM channel with a user
    ada = await person(rt, "Ada", {"discord": (str(DISCORD_ADA), str(dm))})
    ids = await their_day(rt, ada)
    before = await statuses(rt)
    async with platforms(rt, discord_api=discord_api) as router:
        await morning(rt, router, redis)
        [digest] = discord_api.to(dm)
        assert "Good morning" in digest.content and "Pay rent" in digest.content
        assert [(b["label"], b["custom_id"]) for b in digest.buttons] == [
            (label, f"pixie:{data}") for label, data in done_buttons(ids)]
        pay_rent = digest.buttons[1]

        await discord_api.dispatch("INTERACTION_CREATE", discord_api.press(DISCORD_ADA, digest, pay_rent))
        await discord_api.wait_for(lambda: len(discord_api.to(dm)) == 2)
        assert discord_api.to(dm)[1].content == "Done: Pay rent ✓"
        first = await statuses(rt)
        await discord_api.dispatch("INTERACTION_CREATE", discord_api.press(DISCORD_ADA, digest, pay_rent))
        await discord_api.wait_for(lambda: len(discord_api.to(dm)) == 3)
        assert discord_api.to(dm)[2].content == "“Pay rent” was already done."
    await done_once(rt, before)
    assert await statuses(rt) == first
    assert await digests_sent(rt) == [("discord", "sent")]


# ---------------------------------------------------------------- the platform the digest lands on

async def test_the_digest_goes_to_the_platform_chosen_in_chat_not_where_she_last_wrote(
        rt: Runtime, redis: RedisSettings, telegram: FakeTelegram, slack: FakeSlack) -> None:
    ada = await person(rt, "Ada", {"telegram": (str(TG_ADA), str(TG_ADA)),
                                   "slack": (f"{TEAM}/{SLACK_ADA}", f"D{SLACK_ADA}")})
    ids = await their_day(rt, ada)
    async with platforms(rt, telegram=telegram, slack=slack) as router:
        telegram.user_sends(TG_ADA, "send my morning digest on Slack")  # said on Telegram: set_digest
        await telegram.wait_for(lambda: telegram.to(TG_ADA))
        assert "on Slack" in telegram.to(TG_ADA)[0].text
        await morning(rt, router, redis)
    [digest] = slack.to(f"D{SLACK_ADA}")
    assert "Pay rent" in digest.text and [b["value"] for b in digest.buttons] == [d for _, d in done_buttons(ids)]
    assert len(telegram.to(TG_ADA)) == 1  # only the answer to what she said; no digest on Telegram
    assert await digests_sent(rt) == [("slack", "sent")]


async def test_digest_here_keeps_the_digest_there_after_she_writes_elsewhere(
        rt: Runtime, redis: RedisSettings, telegram: FakeTelegram, discord_api: FakeDiscord) -> None:
    dm = 7000 + DISCORD_ADA
    ada = await person(rt, "Ada", {"telegram": (str(TG_ADA), str(TG_ADA)), "discord": (str(DISCORD_ADA), str(dm))})
    await their_day(rt, ada)
    async with platforms(rt, telegram=telegram, discord_api=discord_api) as router:
        await discord_api.dispatch("MESSAGE_CREATE", discord_api.dm(DISCORD_ADA, "/digest here"))
        await discord_api.wait_for(lambda: discord_api.to(dm))
        assert " on Discord — next one " in discord_api.to(dm)[0].content  # set_digest's answer
        await next_second()
        telegram.user_sends(TG_ADA, "add call the plumber tomorrow")  # she writes on Telegram afterwards
        await telegram.wait_for(lambda: telegram.to(TG_ADA))
        await morning(rt, router, redis)
    [_, digest] = discord_api.to(dm)
    assert "Good morning" in digest.content and len(digest.buttons) == 2
    [answer] = telegram.to(TG_ADA)  # the answer to what she wrote there, and no digest
    assert answer.text.startswith("Added: Call the plumber")
    assert await digests_sent(rt) == [("discord", "sent")]


async def test_with_no_choice_the_digest_goes_where_each_person_last_wrote(
        rt: Runtime, redis: RedisSettings, telegram: FakeTelegram, slack: FakeSlack) -> None:
    ada = await person(rt, "Ada", {"telegram": (str(TG_ADA), str(TG_ADA)),
                                   "slack": (f"{TEAM}/{SLACK_ADA}", f"D{SLACK_ADA}")})
    await person(rt, "Bea", {"telegram": (str(TG_BEA), str(TG_BEA)),
                             "slack": (f"{TEAM}/{SLACK_BEA}", f"D{SLACK_BEA}")})
    await their_day(rt, ada)
    async with platforms(rt, telegram=telegram, slack=slack) as router:
        # Ada writes on Telegram, then on Slack; Bea on Slack, then on Telegram.
        telegram.user_sends(TG_ADA, "/tasks")
        await telegram.wait_for(lambda: telegram.to(TG_ADA))
        await slack.envelope("events_api", slack.dm(SLACK_ADA, "/tasks"))
        await slack.wait_for(lambda: slack.to(f"D{SLACK_ADA}"))
        await slack.envelope("events_api", slack.dm(SLACK_BEA, "/tasks"))
        await slack.wait_for(lambda: slack.to(f"D{SLACK_BEA}"))
        await next_second()
        telegram.user_sends(TG_BEA, "/tasks", name="Bea")
        await telegram.wait_for(lambda: telegram.to(TG_BEA))
        await morning(rt, router, redis)
    ada_digest = [p for p in slack.to(f"D{SLACK_ADA}") if "Good morning" in p.text]
    bea_digest = [s for s in telegram.to(TG_BEA) if "Good morning" in s.text]
    assert len(ada_digest) == 1 and "Pay rent" in ada_digest[0].text and len(bea_digest) == 1
    assert not [s for s in telegram.to(TG_ADA) if "Good morning" in s.text]
    assert not [p for p in slack.to(f"D{SLACK_BEA}") if "Good morning" in p.text]
    assert sorted(await digests_sent(rt)) == [("slack", "sent"), ("telegram", "sent")]


async def test_a_digest_chosen_for_a_slack_channel_is_posted_in_that_channel_with_its_buttons(
        rt: Runtime, redis: RedisSettings, telegram: FakeTelegram, slack: FakeSlack) -> None:
    ada = await person(rt, "Ada", {"telegram": (str(TG_ADA), str(TG_ADA)),
                                   "slack": (f"{TEAM}/{SLACK_ADA}", f"D{SLACK_ADA}")})
    ids = await their_day(rt, ada)
    async with platforms(rt, telegram=telegram, slack=slack) as router:
        telegram.user_sends(TG_ADA, "post my digest in #standup on Slack")
        await telegram.wait_for(lambda: telegram.to(TG_ADA))
        assert "in #standup" in telegram.to(TG_ADA)[0].text
        await morning(rt, router, redis)
        [digest] = slack.to("#standup")
        assert "Pay rent" in digest.text
        assert [(b["text"]["text"], b["value"]) for b in digest.buttons] == done_buttons(ids)
        await slack.envelope("interactive", slack.press(SLACK_ADA, digest, digest.buttons[1]))  # pressed there
        await slack.wait_for(lambda: len(slack.to("#standup")) == 2)
    assert slack.to("#standup")[1].text == "Done: Pay rent ✓"
    assert slack.to(f"D{SLACK_ADA}") == [] and len(telegram.to(TG_ADA)) == 1
    assert (await statuses(rt))["Pay rent"][0] == "done"
    assert await digests_sent(rt) == [("slack", "sent")]



async def test_a_chosen_platform_this_pixie_no_longer_runs_falls_back_to_where_she_last_wrote(
        rt: Runtime, redis: RedisSettings, telegram: FakeTelegram, slack: FakeSlack) -> None:
    ada = await person(rt, "Ada", {"telegram": (str(TG_ADA), str(TG_ADA)),
                                   "slack": (f"{TEAM}/{SLACK_ADA}", f"D{SLACK_ADA}"),
                                   "discord": (str(DISCORD_ADA), str(7000 + DISCORD_ADA))})
    await call(rt, ada, "set_digest", {"platform": "discord"}, dt.datetime.now(clock.UTC))
    async with platforms(rt, telegram=telegram, slack=slack) as router:  # Discord is not configured any more
        await slack.envelope("events_api", slack.dm(SLACK_ADA, "/tasks"))
        await slack.wait_for(lambda: slack.to(f"D{SLACK_ADA}"))
        await morning(rt, router, redis)
    assert [p for p in slack.to(f"D{SLACK_ADA}") if "Good morning" in p.text]
    assert telegram.sent == []
    assert [status for _, status in await digests_sent(rt)] == ["sent"]
