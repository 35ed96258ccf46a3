"""The notifier of a worker that runs without the bots (`pixie worker`): send-only copies of the adapters.

`jobs.worker.default_notifier` calls `build_notifier(settings, sessions)`. For every platform whose
token is set it builds the platform's own adapter (so its formatting, splitting, buttons and error
mapping are the ones `pixie run` uses) but never runs its receiving side: no Telegram polling or
webhook, no Slack Socket Mode or HTTP Events, no Discord gateway. Only the REST clients are used,
logged in lazily before the first send. `aclose()` closes them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy.ext.asyncio import async_sessionmaker

from core.config import Settings
from core.inbox import Inbox
from core.notify import Router, Sender
from core.types import OutgoingNotification, PlatformUnavailable, Undeliverable

if TYPE_CHECKING:
    from core.assistant import Assistant

log = logging.getLogger(__name__)


class SendOnly:
    """One platform's adapter used only to send: its client is opened once, before the first note."""

    def __init__(self, platform: str, adapter: Sender, open_client: Callable[[], Awaitable[Any]] | None = None,
                 close_client: Callable[[], Awaitable[Any]] | None = None) -> None:
        self.platform, self.adapter = platform, adapter
        self._open, self._close = open_client, close_client
        self._opened = open_client is None
        self._closed = False
        self._lock = asyncio.Lock()

    async def _ensure_open(self) -> None:
        if self._closed:
            raise PlatformUnavailable(f"{self.platform}: the notifier is closed")
        if self._opened:
            return
        async with self._lock:
            if self._opened:
                return
            assert self._open is not None
            try:
                await self._open()
            except (PlatformUnavailable, Undeliverable):
                raise
            except Exception as exc:  # a bad token or the platform away: retried, and shown by `pixie doctor`
                log.warning("%s: could not log in to send notifications: %s", self.platform, exc)
                raise PlatformUnavailable(f"{self.platform}: could not log in ({exc})") from exc
            self._opened = True

    async def send_note(self, platform_user_id: str, chat_id: str | None, note: OutgoingNotification) -> None:
        """Log in if not yet, then let the adapter send the note as it always does."""
        await self._ensure_open()
        await self.adapter.send_note(platform_user_id, chat_id, note)

    async def aclose(self) -> None:
        """Close the platform's HTTP client (if it was opened)."""
        self._closed = True
        async with self._lock:
            if self._opened and self._close is not None:
                try:
                    await self._close()
                except Exception as exc:  # closing is best effort
                    log.debug("%s: closing the client failed: %s", self.platform, exc)
            self._opened = False


class WorkerRouter(Router):
    """A `core.notify.Router` over send-only adapters, with `aclose()` for the worker's shutdown."""

    async def aclose(self) -> None:
        """Close every platform client this router opened."""
        for sender in self.senders.values():
            if isinstance(sender, SendOnly):
                await sender.aclose()

    async def __aenter__(self) -> WorkerRouter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _inbox(sessions: async_sessionmaker) -> Inbox:
    # The adapters take an Inbox for what they receive; a send-only adapter receives nothing, so the
    # inbox is never asked to handle a message and needs no assistant.
    return Inbox(sessions, cast("Assistant", None))


def _telegram(settings: Settings, inbox: Inbox) -> SendOnly:
    from bots.telegram import PLATFORM, TelegramBot

    assert settings.telegram_bot_token
    bot = TelegramBot(inbox, settings.telegram_bot_token, settings.telegram_base_url)
    # initialize() = getMe and the HTTP pool; no webhook change, no getUpdates.
    return SendOnly(PLATFORM, bot, bot.bot.initialize, bot.bot.shutdown)


def _slack(settings: Settings, inbox: Inbox) -> SendOnly:
    from bots.slack import PLATFORM, SlackBot

    assert settings.slack_bot_token
    # Only the Web API client is used (chat.postMessage); it needs no login and opens a session per call.
    bot = SlackBot(inbox, settings.slack_bot_token, base_url=settings.slack_api_url)
    return SendOnly(PLATFORM, bot)


def _discord(settings: Settings, inbox: Inbox) -> SendOnly:
    from bots.discord import PLATFORM, DiscordBot

    class DiscordSender(DiscordBot):
        """The Discord adapter logged in over REST only: no gateway, no slash commands to sync."""

        async def setup(self) -> None:  # called by Client.login's setup_hook
            return None

    token = settings.discord_bot_token
    assert token
    bot = DiscordSender(inbox, token, guild_id=settings.discord_guild_id)
    # Client.login: GET users/@me and the application over REST; the gateway is never connected.
    return SendOnly(PLATFORM, bot, lambda: bot.client.login(token), bot.client.close)


def build_notifier(settings: Settings, sessions: async_sessionmaker) -> WorkerRouter | None:
    """A router reaching users on every platform whose token is set; None when none is."""
    builders: list[tuple[str | None, Callable[[Settings, Inbox], SendOnly]]] = [
        (settings.telegram_bot_token, _telegram), (settings.slack_bot_token, _slack),
        (settings.discord_bot_token, _discord)]
    if not any(token for token, _ in builders):
        return None
    inbox = _inbox(sessions)
    router = WorkerRouter(sessions)
    for token, make in builders:
        if token:
            sender = make(settings, inbox)
            router.register(sender.platform, sender)
    log.info("notifications go out through %s (send-only)", ", ".join(sorted(router.senders)))
    return router
