"""The notifier of a worker that runs without the bots (`pixie worker`): send-only copies of the adapters.

`bots.app.run_worker` calls `build_notifier(settings, sessions)`. For every configured platform in
`bots.platforms.REGISTRY` it builds the platform's own adapter through its `build_sender` (so its
formatting, splitting, buttons and error mapping are the ones `pixie run` uses) but never runs its
receiving side (no polling, webhook, Socket Mode or gateway). Only the REST clients are used, logged
in lazily before the first send. `aclose()` closes them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy.ext.asyncio import async_sessionmaker

from bots import platforms
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


def build_notifier(settings: Settings, sessions: async_sessionmaker) -> WorkerRouter | None:
    """A router reaching users on every configured platform (send-only); None when none is configured."""
    chosen = platforms.configured(settings)
    if not chosen:
        return None
    inbox = _inbox(sessions)
    router = WorkerRouter(sessions)
    for platform in chosen:
        client = platform.adapter().build_sender(inbox, settings)
        router.register(platform.name, SendOnly(platform.name, client.adapter, client.login, client.logout))
    log.info("notifications go out through %s (send-only)", ", ".join(sorted(router.senders)))
    return router
