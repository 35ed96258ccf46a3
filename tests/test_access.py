"""Who may talk to Pixie, and one person on several platforms: pairing, admitting, linking, digest choice."""

from __future__ import annotations

import datetime as dt
import re

from fakes.slack import TEAM, FakeSlack
from fakes.telegram import FakeTelegram
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from test_slack import running as slack_running
from test_telegram import running as telegram_running

from bots.app import Runtime
from bots.common import split_text, utf16_len
from core import clock
from core.access import MAX_ATTEMPTS, normalise_code, parse_command, parse_owners
from core.notify import Router
from core.types import IncomingMessage, OutgoingNotification
from db.models import Identity, MemoryItem, Task, User

NOW = dt.datetime(2026, 1, 13, 8, 0, tzinfo=clock.UTC)


async def say(rt: Runtime, platform: str, who: str, text: str, n: list[int] = [0]) -> str:  # noqa: B006
    n[0] += 1
    reply = await rt.assistant.handle(IncomingMessage(platform, who, text, chat_id=f"c-{who}",
                                                      message_id=f"m{n[0]}", ts=NOW))
    return reply.text


def code_in(text: str) -> str:
    found = re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}", text)
    assert found, text
    return found.group(0)


async def test_linking_telegram_to_slack_gives_one_task_list_and_the_digest_goes_where_chosen(
        rt: Runtime) -> None:
    rt.assistant.access.owners = parse_owners("telegram:1001")
    tg, sl = await FakeTelegram().start(), await FakeSlack().start()
    router = Router(rt.sessions)
    try:
        async with telegram_running(rt, tg) as tbot, slack_running(rt, sl) as sbot:
            router.register("telegram", tbot)
            router.register("slack", sbot)
            tg.user_sends(1001, "add buy milk tomorrow")
            tg.user_sends(1001, "/link")
            await tg.wait_for(lambda: len(tg.to(1001)) == 2)
            code = code_in(tg.to(1001)[1].text)
            await sl.envelope("events_api", sl.dm("U0ADA", f"/link {code}"))
            await sl.wait_for(lambda: sl.to("DU0ADA"))
            assert sl.to("DU0ADA")[0].text.startswith("Linked!")
            await sl.envelope("events_api", sl.dm("U0ADA", "add book the dentist friday"))
            await sl.envelope("events_api", sl.dm("U0ADA", "/digest here"))
            await sl.wait_for(lambda: len(sl.to("DU0ADA")) == 3)
            tg.user_sends(1001, "/tasks")
            await tg.wait_for(lambda: len(tg.to(1001)) == 3)
            assert tg.to(1001)[2].text.startswith("Your tasks (2):")
            async with rt.sessions() as s:
                user = await s.scalar(select(User))
            await router.send(str(user.id), OutgoingNotification("n1", str(user.id), "digest", "Good morning!"))
            await sl.wait_for(lambda: len(sl.to("DU0ADA")) == 4)
            assert sl.to("DU0ADA")[3].text == "Good morning!"
            assert len(tg.to(1001)) == 3  # not on Telegram
    finally:
        await tg.stop()
        await sl.stop()
    async with rt.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(User)) == 1
        assert sorted(await s.scalars(select(Identity.platform))) == ["slack", "telegram"]
        assert await s.scalar(select(Identity.platform_user_id).where(Identity.platform == "slack")) == f"{TEAM}/U0ADA"


async def test_linking_two_accounts_that_both_have_data_merges_tasks_and_memory(rt: Runtime) -> None:
    rt.assistant.access.owners = parse_owners("telegram:1,discord:2")
    await say(rt, "telegram", "1", "add fix the auth bug by friday")
    await say(rt, "telegram", "1", "remember that my locker is 112")
    await say(rt, "discord", "2", "add call the bank tomorrow")
    code = code_in(await say(rt, "telegram", "1", "/link"))
    assert (await say(rt, "discord", "2", f"/link {code}")).startswith("Linked!")
    assert (await say(rt, "discord", "2", f"/link {code}")).startswith("That link code isn't valid")
    assert "Your tasks (2)" in await say(rt, "discord", "2", "/tasks")
    assert "112" in await say(rt, "discord", "2", "what's my locker number?")
    async with rt.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(User)) == 1
        [owner] = list(await s.scalars(select(User)))
        assert owner.role == "owner" and owner.name == "telegram:1"  # the first account's settings
        assert await s.scalar(select(func.count()).select_from(MemoryItem).where(MemoryItem.user_id != owner.id)) == 0


async def test_reminders_go_where_the_user_last_spoke_even_minutes_apart(rt: Runtime) -> None:
    rt.assistant.access.owners = parse_owners("telegram:1,discord:2")

    async def at(platform: str, who: str, text: str, minute: int) -> str:
        reply = await rt.assistant.handle(IncomingMessage(platform, who, text, chat_id=f"c-{who}",
                                                          message_id=f"{platform}-{minute}",
                                                          ts=NOW + dt.timedelta(minutes=minute)))
        return reply.text

    await at("telegram", "1", "add water the plants tomorrow", 0)
    code = code_in(await at("telegram", "1", "/link", 1))
    assert (await at("discord", "2", f"/link {code}", 2)).startswith("Linked!")
    await at("discord", "2", "add buy bread tomorrow", 3)
    await at("telegram", "1", "add feed the cat tomorrow", 4)  # back on Telegram a minute later

    async def last_platform() -> str:
        async with rt.sessions() as s:
            idents = list(await s.scalars(select(Identity)))
        return max(idents, key=lambda i: i.last_seen_at or NOW - dt.timedelta(days=1)).platform

    assert await last_platform() == "telegram"
    await at("discord", "2", "add call the bank tomorrow", 5)
    assert await last_platform() == "discord"


async def test_a_stranger_cannot_guess_codes_and_only_owners_invite(rt: Runtime) -> None:
    rt.assistant.access.owners = parse_owners("telegram:1")
    await say(rt, "telegram", "1", "hi")
    invite = code_in(await say(rt, "telegram", "1", "/invite"))
    assert "private assistant" in await say(rt, "telegram", "66", "hello")
    for _ in range(MAX_ATTEMPTS):
        assert "isn't valid" in await say(rt, "telegram", "66", "/start AAAA-BBBB")
    assert await say(rt, "telegram", "66", invite) == ""  # too many guesses: even a real code is ignored now
    assert (await say(rt, "telegram", "77", invite)).startswith("Welcome!")  # someone else can still use it
    assert await say(rt, "telegram", "77", "/invite") == "Only an owner can admit people."
    async with rt.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Task)) == 0


async def test_pressing_done_twice_completes_once(rt: Runtime) -> None:
    rt.assistant.access.owners = parse_owners("discord:9")
    await say(rt, "discord", "9", "add water the plants today")
    async with rt.sessions() as s:
        task = await s.scalar(select(Task))
    first = await rt.assistant.press("discord", "9", "done", str(task.id), now=NOW, press_id="p1")
    again = await rt.assistant.press("discord", "9", "done", str(task.id), now=NOW, press_id="p1")
    later = await rt.assistant.press("discord", "9", "done", str(task.id), now=NOW, press_id="p2")
    stranger = await rt.assistant.press("discord", "10", "done", str(task.id), now=NOW, press_id="p3")
    assert first.text == "Done: Water the plants ✓" and again.duplicate and stranger.duplicate
    assert "already done" in later.text


def test_owners_codes_and_commands_are_read_forgivingly() -> None:
    assert parse_owners(" telegram:1001, slack:T012/U034 ,bad,discord:") == {("telegram", "1001"),
                                                                              ("slack", "T012/U034")}
    assert normalise_code("abcd efgh") == "ABCDEFGH" and normalise_code("ABCD-EFG1") is None  # no 1: ambiguous
    assert parse_command("/link@PixieBot ABCD-EFGH") == ("link", "ABCD-EFGH")
    assert parse_command("add /link to docs") is None


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=3000),
       st.integers(min_value=20, max_value=400))
def test_split_text_keeps_every_word_and_every_piece_fits_after_escaping(text: str, limit: int) -> None:
    import html

    measure = lambda s: utf16_len(html.escape(s, quote=False))  # noqa: E731
    pieces = split_text(text, limit, measure)
    assert all(measure(p) <= limit and p for p in pieces)
    assert "".join("".join(p.split()) for p in pieces) == "".join(text.split())


async def test_snooze_across_the_spring_forward_gap_is_one_real_hour(rt: Runtime) -> None:
    from db.models import Reminder

    rt.assistant.access.owners = parse_owners("telegram:5")
    before = dt.datetime.fromisoformat("2026-03-29T01:30:00+01:00")  # Berlin skips 02:00–03:00 this night
    await rt.assistant.handle(IncomingMessage("telegram", "5", "remind me to take the bins out at 1:45",
                                              message_id="d1", ts=before), tz="Europe/Berlin")
    async with rt.sessions() as s:
        task = await s.scalar(select(Task))
    reply = await rt.assistant.press("telegram", "5", "snooze", str(task.id), now=before, press_id="s1")
    assert reply.text.endswith("at 03:30.")  # 01:30 + one real hour, in Berlin's new offset
    async with rt.sessions() as s:
        pending = await s.scalar(select(Reminder).where(Reminder.status == "pending"))
    assert pending.remind_at == dt.datetime(2026, 3, 29, 1, 30, tzinfo=clock.UTC)
