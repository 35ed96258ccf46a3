"""The platform-neutral shapes that cross between bots and the core."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL and lone surrogates: Postgres cannot store them


def storable(text: str) -> str:
    """`text` without what Postgres cannot store (the assistant drops those characters from text anyway)."""
    return _UNSTORABLE.sub("", text)


@dataclass(frozen=True)
class IncomingMessage:
    """One message a person sent, as any adapter sees it."""

    platform: str
    platform_user_id: str
    text: str
    chat_id: str | None = None
    message_id: str | None = None
    ts: dt.datetime | None = None  # the assistant's clock for this message (default: now)
    display_name: str | None = None
    # Said where others read the answer: a group, a channel, a thread (core/privacy.py decides what is said there).
    public: bool = False


@dataclass(frozen=True)
class Action:
    """One tool call the assistant made, with what the tool returned."""

    tool: str
    args: dict[str, Any]
    ok: bool
    result: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """The action as `pixie chat --jsonl` prints it."""
        return {"tool": self.tool, "args": self.args, "ok": self.ok, "result": self.result}


@dataclass(frozen=True)
class Button:
    """A button under a notification: what it says and what pressing it does."""

    label: str
    action: str  # done | snooze | undo | yes | no
    value: str  # the task id; for undo the change id; for yes/no the question's id


@dataclass(frozen=True)
class Reply:
    """What the assistant answers to one message."""

    text: str
    actions: list[Action] = field(default_factory=list)
    duplicate: bool = False  # the message was already handled; adapters send nothing
    # For a message said in a public place: `text` goes to the person's direct messages, never to that
    # place, and `note` (if any) is what the place is told instead.
    private: bool = False
    note: str | None = None
    buttons: tuple[Button, ...] = ()  # under the reply: Undo after a change, Yes / No under a question


@dataclass(frozen=True)
class OutgoingNotification:
    """Something pushed to a user on Pixie's own initiative."""

    id: str  # stable across retries: the idempotency key a notifier hands its platform
    user_id: str
    kind: str  # reminder | digest
    text: str
    buttons: tuple[Button, ...] = ()
    platform: str | None = None  # where the worker routes it (the user's choice, else where they last spoke)
    chat_id: str | None = None  # the chat on that platform (a Slack channel for the digest), if known


class Notifier(Protocol):
    """Delivers a notification to a user through the platform they use.

    The worker may call `send` again for the same `note.id` after a crash or a timeout left it
    unsure whether the first call went out; a notifier makes that repeat harmless where the
    platform allows (Discord's `nonce` + `enforce_nonce`, or implementing `DeliveryCheck`).
    Raise `PlatformUnavailable` for "try later" (429, 5xx, network) and `Undeliverable` for
    "never" (the user blocked the bot, the chat is gone).
    """

    async def send(self, user_id: str, note: OutgoingNotification) -> None: ...


@runtime_checkable
class DeliveryCheck(Protocol):
    """A notifier that can look up whether a note already reached the platform (asked after a crash)."""

    async def delivered(self, user_id: str, note: OutgoingNotification) -> bool | None: ...


class PlatformUnavailable(Exception):
    """The platform could not take a notification now; it is retried (after `retry_after` s if given)."""

    def __init__(self, message: str = "platform unavailable", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Undeliverable(Exception):
    """The platform refused a notification for good; it is recorded and shown by `pixie doctor`."""
