"""Brains turn a message into tool calls; every brain speaks the same tool schema."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from core import clock

if TYPE_CHECKING:
    from core.context import ContextPack
    from core.usage import UsageEvent


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
    usage: tuple[UsageEvent, ...] = ()  # what thinking cost (model calls); recorded when the turn acts
    confirmed: bool = False  # the user already said yes to these calls: don't ask again
    # How sure the brain is that these calls are what the user wants (0–1). Below safety.CONFIDENT a call
    # that changes data is asked about instead of run. A model's own calls count as sure, unless the offline
    # understanding hears a message that changes nothing (core.llm_brain.LLMBrain.cross_checked).
    confidence: float = 1.0


@dataclass(frozen=True)
class BrainInput:
    """One message in context: its text and the user's clock (aware, in their zone). Data only: no session."""

    text: str
    now: dt.datetime
    user_name: str = ""
    user_id: uuid.UUID | None = None
    tz: str | None = None
    # What the assistant read for this turn when the brain asked for it (`reads_context`): agenda,
    # tasks, memories, earlier turns. The offline rules need none.
    context: ContextPack | None = None


class Brain(Protocol):
    """Anything that can think about a message: a function from data to a decision, holding no database handle."""

    def reads_context(self, text: str) -> bool:
        """Whether the assistant should read the user's context for this message before thinking."""
        ...

    async def think(self, request: BrainInput) -> Thought: ...


class OfflineBrain:
    """A learned classifier over the bundled sentence model, the rules' slot code and the time parser: no key,
    no network (the rules alone when the local model is not installed)."""

    def reads_context(self, text: str) -> bool:
        """The rules read the message alone."""
        return False

    async def think(self, request: BrainInput) -> Thought:
        """Understand the message offline, with how sure the understanding is."""
        from core.understand import understand

        found = understand(request.text, request.now)
        intent = found.intent
        if intent.reply_kind == "time_now":
            zone = intent.args.get("zone")  # "… in tokyo": that zone's clock, else the user's
            now = request.now.astimezone(clock.zone(zone)) if zone else request.now
            return Thought(text=f"It's {now:%H:%M} on {now:%A} {now.day} {now:%B %Y} "
                                f"({zone or request.tz or now.tzname()}).")
        if intent.tool is None:
            return Thought(text=found.say, reply_kind=intent.reply_kind or "unknown", confidence=found.confidence)
        return Thought(calls=[ToolCall(intent.tool, dict(intent.args))], text=found.say, confidence=found.confidence)
