"""Brains turn a message into tool calls; every brain speaks the same tool schema."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ToolCall:
    """A tool the brain wants to run, with its arguments."""

    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Thought:
    """What a brain decided: tool calls, or a reply without any."""

    calls: list[ToolCall] = field(default_factory=list)
    text: str | None = None  # a reply the brain wrote itself
    reply_kind: str | None = None  # or a canned reply kind (greeting, thanks, unknown…)
    note: str | None = None  # e.g. "(answered offline: the model was unavailable)"


@dataclass(frozen=True)
class BrainInput:
    """One message in context: its text and the user's clock (aware, in their zone)."""

    text: str
    now: dt.datetime
    user_name: str = ""
    # For brains that read context (the model brain): whose message, in which zone, and the
    # assistant's session, whose transaction already holds this message. The offline rules ignore them.
    user_id: uuid.UUID | None = None
    tz: str | None = None
    session: Any = None


class Brain(Protocol):
    """Anything that can think about a message."""

    async def think(self, request: BrainInput) -> Thought: ...


class OfflineBrain:
    """Rules and the time parser: no model, no key, no network."""

    async def think(self, request: BrainInput) -> Thought:
        """Understand the message with the offline rules."""
        from core.nlu import parse_message

        intent = parse_message(request.text, request.now)
        if intent.tool is None:
            return Thought(reply_kind=intent.reply_kind or "unknown")
        return Thought(calls=[ToolCall(intent.tool, dict(intent.args))])
