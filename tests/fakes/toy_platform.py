"""A toy chat platform, written as a new `bots/<platform>.py` would be, over the generic fake platform.

It proves that adding a platform takes its module and one registry line, nothing else:
`tests/test_platforms.py` appends `TOY` to `bots.platforms.REGISTRY`, and `pixie run` and the
worker's notifier pick it up. It reads its own setting (`PIXIE_TOY_URL`, the fake's address) and
posts notes with `tests.fakes.chat_platform.HttpNotifier`; it receives nothing.
"""

from __future__ import annotations

import asyncio
import os

from bots.platforms import Adapter, Platform, SendClient
from core.config import Settings
from core.inbox import Inbox
from core.types import OutgoingNotification
from tests.fakes.chat_platform import HttpNotifier

PLATFORM = "toy"
SETTING = "PIXIE_TOY_URL"
TOY = Platform(PLATFORM, "Toy", __name__, SETTING, lambda settings: bool(os.environ.get(SETTING)))


class ToyBot:
    """The toy's adapter: runs until cancelled, sends a note as one POST to the fake."""

    def __init__(self, inbox: Inbox, url: str) -> None:
        self.inbox, self.http = inbox, HttpNotifier(url)
        self.started = asyncio.Event()

    async def run(self) -> None:
        """Serve until cancelled (a real adapter would receive here, through its Conversations)."""
        self.started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await self.http.close()

    async def send_note(self, platform_user_id: str, chat_id: str | None, note: OutgoingNotification) -> None:
        """One POST per note; the fake's errors arrive as PlatformUnavailable / Undeliverable."""
        await self.http.send(platform_user_id, note)


def _bot(inbox: Inbox, settings: Settings) -> ToyBot:
    return ToyBot(inbox, os.environ[SETTING])


def _sender(inbox: Inbox, settings: Settings) -> SendClient:
    bot = ToyBot(inbox, os.environ[SETTING])
    return SendClient(bot, logout=bot.http.close)


ADAPTER = Adapter(build_bot=_bot, build_sender=_sender)
