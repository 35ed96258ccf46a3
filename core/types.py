"""The platform-neutral shapes that cross between bots and the core."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol


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
    action: str  # done | snooze
    value: str  # the task or reminder id


@dataclass(frozen=True)
class Reply:
    """What the assistant answers to one message."""

    text: str
    actions: list[Action] = field(default_factory=list)
    duplicate: bool = False  # the message was already handled; adapters send nothing


@dataclass(frozen=True)
class OutgoingNotification:
    """Something pushed to a user on Pixie's own initiative."""

    id: str
    user_id: str
    kind: str  # reminder | digest
    text: str
    buttons: tuple[Button, ...] = ()


class Notifier(Protocol):
    """Delivers a notification to a user through the platform they use."""

    async def send(self, user_id: str, note: OutgoingNotification) -> None: ...
