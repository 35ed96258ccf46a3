"""The chat platforms Pixie can serve, registered in one place: `REGISTRY` below, one line each.

A platform is one module under bots/ (its adapter, built on bots.common) that declares one
`Adapter`: how to build its bot for `pixie run` and its send-only client for the worker, and what
is missing in the settings. Its registry line says what the platform is called, which module holds
it and which setting switches it on, so the module (and with it the platform's SDK) is imported
only when that setting is set. `pixie run`, the worker's notifier and `pixie doctor` iterate
`REGISTRY`; no other module names a platform. Formatting, splitting and buttons live in the
adapter itself, behind `core.notify.Sender.send_note` and `bots.common.Channel.respond`.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from core.config import Settings
from core.inbox import Inbox
from core.notify import Sender


class Bot(Sender, Protocol):
    """What `pixie run` needs of an adapter: it receives until cancelled, and sends notes."""

    async def run(self) -> None: ...


@dataclass(frozen=True)
class SendClient:
    """A platform's adapter used only to send, and how to log its client in and out (None: nothing to do)."""

    adapter: Sender
    login: Callable[[], Awaitable[object]] | None = None
    logout: Callable[[], Awaitable[object]] | None = None


def _nothing_missing(settings: Settings) -> list[str]:
    return []


@dataclass(frozen=True)
class Adapter:
    """What a platform module declares (as `ADAPTER`): how its parts are built from the settings."""

    build_bot: Callable[[Inbox, Settings], Bot]  # receives and answers (`pixie run`)
    build_sender: Callable[[Inbox, Settings], SendClient]  # sends only (`pixie worker`): never receives
    problems: Callable[[Settings], list[str]] = field(default=_nothing_missing)  # what a configured one lacks


@dataclass(frozen=True)
class Platform:
    """One registry line: the platform's id, how people call it, its module, and what switches it on."""

    name: str  # IncomingMessage.platform, identities, PIXIE_OWNERS
    display_name: str
    module: str  # declares ADAPTER; imported only when configured
    setting: str  # the environment variable to set, for messages
    configured: Callable[[Settings], bool]

    def adapter(self) -> Adapter:
        """The platform module's `Adapter` (imports the module and its SDK)."""
        found = importlib.import_module(self.module).ADAPTER
        if not isinstance(found, Adapter):
            raise TypeError(f"{self.module}.ADAPTER is not a bots.platforms.Adapter")
        return found


REGISTRY: tuple[Platform, ...] = (
    Platform("telegram", "Telegram", "bots.telegram", "TELEGRAM_BOT_TOKEN", lambda s: bool(s.telegram_bot_token)),
    Platform("slack", "Slack", "bots.slack", "SLACK_BOT_TOKEN", lambda s: bool(s.slack_bot_token)),
    Platform("discord", "Discord", "bots.discord", "DISCORD_BOT_TOKEN", lambda s: bool(s.discord_bot_token)),
)


def configured(settings: Settings) -> list[Platform]:
    """The registered platforms whose settings switch them on, in registry order."""
    return [p for p in REGISTRY if p.configured(settings)]

