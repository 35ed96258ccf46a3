"""Groups and channels are public places: what Pixie says there, per platform, with the real SDKs against the fakes.

The owner asks for a secret from their memory and for their tasks in a group: nothing of theirs
appears in the group, the answers arrive in their DM. A stranger mentions the bot in a group:
nothing with their id appears there.
"""

from __future__ import annotations

import asyncio

from fakes.discord import FakeDiscord
from fakes.slack import TEAM, FakeSlack
from fakes.telegram import FakeTelegram
from test_discord import fake as discord_fake  # noqa: F401  (a fixture)
from test_discord import restore_discord_urls  # noqa: F401  (a fixture)
from test_discord import running as discord_running
from test_slack import running as slack_running
from test_telegram import running as telegram_running

from bots.app import Runtime
from bots.common import CANT_DM
from core.privacy import ANSWERED_IN_DM, DONE_IN_DM
from db.models import Stranger, Task
from tests.chat_support import admit, count

SECRET, TASK = "9931", "Renew the passport"  # what must never be posted in a group
ASK_SECRET, ASK_TASKS = "what is the vault code?", "/tasks"


def leaked(texts: list[str], *private: str) -> list[str]:
    """The texts that show any of `private`."""
    return [t for t in texts if any(p.lower() in t.lower() for p in private)]


# ---------------------------------------------------------------- Telegram

ADA, BOB, GROUP = 1001, 2002, -100777


async def test_telegram_the_owner_asking_in_a_group_gets_the_answers_in_the_dm(rt: Runtime, telegram: FakeTelegram
                                                                                ) -> None:
    admit(rt, "telegram", ADA)
    async with telegram_running(rt, telegram):
        telegram.user_sends(ADA, "remember the vault code is 9931")
        telegram.user_sends(ADA, "add renew the passport tomorrow")
        await telegram.wait_for(lambda: len(telegram.to(ADA)) == 2)
        for text in (f"@PixieTestBot {ASK_SECRET}", f"{ASK_TASKS}@PixieTestBot", "@PixieTestBot add water the plants",
                     "@PixieTestBot /help"):
            telegram.user_sends(ADA, text, chat_type="supergroup", chat_id=GROUP)
        await telegram.wait_for(lambda: len(telegram.to(GROUP)) == 4 and len(telegram.to(ADA)) == 5)
    group = [s.text for s in telegram.to(GROUP)]
    assert not leaked(group, SECRET, TASK, "plants", str(ADA))
    assert group[:3] == [ANSWERED_IN_DM, ANSWERED_IN_DM, DONE_IN_DM]
    assert "/tasks" in group[3] and "owner" not in group[3]  # the help, the same for everyone: said in the group
    dm = [s.text for s in telegram.to(ADA)[2:]]
    assert SECRET in dm[0] and TASK in dm[1] and "Water the plants" in dm[2]
    assert await count(rt, Task) == 2


async def test_telegram_a_stranger_mentioning_the_bot_in_a_group_gets_nothing_there(
        rt: Runtime, telegram: FakeTelegram) -> None:
    admit(rt, "telegram", ADA)
    async with telegram_running(rt, telegram):
        telegram.user_sends(BOB, "@PixieTestBot hi, who are you?", chat_type="group", chat_id=GROUP, name="Bob")
        telegram.user_sends(BOB, "@PixieTestBot /tasks", chat_type="group", chat_id=GROUP, name="Bob")
        telegram.user_sends(BOB, "@PixieTestBot", chat_type="group", chat_id=GROUP, name="Bob")  # nothing else said
        telegram.user_sends(BOB, "@PixieTestBot " + "spam " * 1000, chat_type="group", chat_id=GROUP, name="Bob")
        telegram.user_sends(ADA, "@PixieTestBot /help", chat_type="group", chat_id=GROUP)  # a marker: after Bob's
        await telegram.wait_for(lambda: telegram.to(GROUP))
        await asyncio.sleep(0.2)
        assert [s.text for s in telegram.to(GROUP)][0].startswith("Commands:")  # Ada's, and nothing for Bob
        assert await count(rt, Stranger) == 0  # a mention in a group used up no refusal
        telegram.user_sends(BOB, "hello")  # … so writing to Pixie directly gets the one polite refusal
        await telegram.wait_for(lambda: telegram.to(BOB))
    assert not leaked([s.text for s in telegram.to(GROUP)], str(BOB), "private assistant")
    [refusal] = telegram.to(BOB)
    assert f"telegram:{BOB}" in refusal.text


async def test_telegram_when_the_dm_cannot_be_opened_the_group_is_told_and_shown_nothing(
        rt: Runtime, telegram: FakeTelegram) -> None:
    admit(rt, "telegram", ADA)
    async with telegram_running(rt, telegram):
        telegram.user_sends(ADA, "remember the vault code is 9931")
        await telegram.wait_for(lambda: telegram.to(ADA))
        telegram.fail_next("sendMessage", 403, description="Forbidden: bot can't initiate conversation with a user")
        telegram.user_sends(ADA, f"@PixieTestBot {ASK_SECRET}", chat_type="supergroup", chat_id=GROUP)
        await telegram.wait_for(lambda: telegram.to(GROUP))
    assert [s.text for s in telegram.to(GROUP)] == [CANT_DM]


# ---------------------------------------------------------------- Slack

S_ADA, S_EVE, CHANNEL = "U0ADA", "U0EVE", "C0GENERAL"


async def test_slack_the_owner_asking_in_a_channel_gets_the_answers_in_the_dm(rt: Runtime) -> None:
    admit(rt, "slack", f"{TEAM}/{S_ADA}")
    fake = await FakeSlack().start()
    try:
        async with slack_running(rt, fake):
            await fake.envelope("events_api", fake.dm(S_ADA, "remember the vault code is 9931"))
            await fake.envelope("events_api", fake.dm(S_ADA, "add renew the passport tomorrow"))
            await fake.wait_for(lambda: len(fake.to(f"D{S_ADA}")) == 2)
            asked = [fake.mention(S_ADA, ASK_SECRET), fake.mention(S_ADA, ASK_TASKS)]
            for body in asked:
                await fake.envelope("events_api", body)
                await fake.wait_for(lambda: len(fake.to(CHANNEL)) == asked.index(body) + 1)  # noqa: B023
            await fake.wait_for(lambda: len(fake.to(S_ADA)) == 2)
            await fake.envelope("events_api", fake.mention(S_EVE, "hi, what's my schedule?"))  # a stranger
            await fake.envelope("events_api", fake.mention(S_ADA, "/help"))  # a marker: after Eve's
            await fake.wait_for(lambda: len(fake.to(CHANNEL)) == 3)
            await asyncio.sleep(0.2)
    finally:
        await fake.stop()
    channel = fake.to(CHANNEL)
    assert not leaked([p.text for p in channel], SECRET, TASK, S_EVE, "private assistant")
    assert [p.text for p in channel[:2]] == [ANSWERED_IN_DM, ANSWERED_IN_DM]
    assert [p.thread_ts for p in channel[:2]] == [b["event"]["ts"] for b in asked]  # in the asker's thread
    dm = [p.text for p in fake.to(S_ADA)]  # posted to the user id: Slack's DM with the app
    assert SECRET in dm[0] and TASK in dm[1]
    assert not fake.to(f"D{S_EVE}") and not fake.to(S_EVE) and await count(rt, Stranger) == 0


# ---------------------------------------------------------------- Discord

D_ADA, D_EVE, SERVER_CHANNEL = 501, 502, 8000


async def test_discord_the_owner_asking_in_a_server_channel_gets_the_answers_in_the_dm(
        rt: Runtime, discord_fake: FakeDiscord) -> None:  # noqa: F811
    fake, dm_ada = discord_fake, 7000 + D_ADA
    admit(rt, "discord", D_ADA)
    async with discord_running(rt, fake):
        await fake.dispatch("MESSAGE_CREATE", fake.dm(D_ADA, "remember the vault code is 9931"))
        await fake.dispatch("MESSAGE_CREATE", fake.dm(D_ADA, "add renew the passport tomorrow"))
        await fake.wait_for(lambda: len(fake.to(dm_ada)) == 2)
        await fake.dispatch("MESSAGE_CREATE", fake.dm(D_ADA, ASK_SECRET, guild=True, mention=True))
        await fake.dispatch("MESSAGE_CREATE", fake.dm(D_ADA, ASK_TASKS, guild=True, mention=True))
        await fake.dispatch("MESSAGE_CREATE", fake.dm(D_EVE, "what's on my calendar?", guild=True, mention=True))
        await fake.dispatch("MESSAGE_CREATE", fake.dm(D_ADA, "/help", guild=True, mention=True))  # a marker
        await fake.wait_for(lambda: len(fake.to(SERVER_CHANNEL)) == 3 and len(fake.to(dm_ada)) == 4)
        await asyncio.sleep(0.2)
    channel = [s.content for s in fake.to(SERVER_CHANNEL)]
    assert not leaked(channel, SECRET, TASK, str(D_EVE), "private assistant")
    assert channel[:2] == [ANSWERED_IN_DM, ANSWERED_IN_DM]
    dm = [s.content for s in fake.to(dm_ada)[2:]]
    assert SECRET in dm[0] and TASK in dm[1]
    assert not fake.to(7000 + D_EVE) and await count(rt, Stranger) == 0


async def test_discord_a_slash_command_in_a_server_is_answered_only_to_whoever_typed_it(
        rt: Runtime, discord_fake: FakeDiscord) -> None:  # noqa: F811
    fake = discord_fake
    admit(rt, "discord", D_ADA)
    async with discord_running(rt, fake):
        await fake.dispatch("MESSAGE_CREATE", fake.dm(D_ADA, "add renew the passport tomorrow"))
        await fake.wait_for(lambda: fake.to(7000 + D_ADA) and fake.commands)
        await fake.dispatch("INTERACTION_CREATE", fake.slash(D_ADA, "tasks", guild=True))
        await fake.wait_for(lambda: fake.to(SERVER_CHANNEL))
    [answer] = fake.to(SERVER_CHANNEL)
    assert TASK in answer.content and answer.flags & 64  # ephemeral: only Ada sees it
    [deferred] = fake.called("POST", "/callback")
    assert deferred["data"]["flags"] & 64  # the "thinking…" placeholder is hers alone too
