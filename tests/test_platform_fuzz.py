"""Property-based fuzzing of the platform surfaces: Telegram updates, Slack envelopes, Discord dispatches.

Each payload goes through the real library (python-telegram-bot, slack-bolt, discord.py) against its
fake, then the adapter, the inbox and the assistant. A few hundred per platform here;
bench/fuzz_platforms.py runs tens of thousands and docs/reliability.md holds its figures.
"""

from __future__ import annotations

import pytest

from bots.app import Runtime
from tests.platform_fuzz import dumps, fuzz_platform

PER_PLATFORM = 200


@pytest.mark.parametrize("platform", ["telegram", "slack", "discord"])
async def test_generated_payloads_never_crash_hang_or_show_a_traceback(rt: Runtime, platform: str) -> None:
    tally = await fuzz_platform(rt, platform, PER_PLATFORM, base_seed=13)
    assert tally.inputs == PER_PLATFORM
    assert tally.clean, "\n".join(dumps(e) for e in tally.examples)
