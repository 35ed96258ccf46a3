"""Property-based fuzzing of the platform surfaces: Telegram updates, Slack envelopes, Discord dispatches.

Each payload goes through the real library (python-telegram-bot, slack-bolt, discord.py) against its
fake, then the adapter, the inbox and the assistant. A few hundred per platform here;
bench/fuzz_platforms.py runs tens of thousands and docs/reliability.md holds its figures.
"""

from __future__ import annotations

import pytest

from bots.app import Runtime
from core.types import IncomingMessage
from tests.chat_support import admit
from tests.platform_fuzz import dumps, fuzz_platform

PER_PLATFORM = 200


@pytest.mark.parametrize("platform", ["telegram", "slack", "discord"])
async def test_generated_payloads_never_crash_hang_or_show_a_traceback(rt: Runtime, platform: str) -> None:
    tally = await fuzz_platform(rt, platform, PER_PLATFORM, base_seed=13)
    assert tally.inputs == PER_PLATFORM
    assert tally.clean, "\n".join(dumps(e) for e in tally.examples)


@pytest.mark.parametrize("press_id, value", [("cb\x00", "x"), ("cb", "task\x00"), ("cb\ud800", "x"), ("cb2", "\udfff")])
async def test_a_press_carrying_what_postgres_cannot_store_is_answered_not_failed(
        rt: Runtime, press_id: str, value: str) -> None:
    admit(rt, "telegram", 1001)
    await rt.assistant.handle(IncomingMessage("telegram", "1001", "add water the plants", chat_id="1001"))
    reply = await rt.assistant.press("telegram", "1001", "done", value, press_id=press_id)
    assert reply.text and "went wrong" not in reply.text
