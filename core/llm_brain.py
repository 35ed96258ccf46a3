"""The model brain: context → one model call → validated tool calls, with the offline rules behind it.

Thrift, by design:
- A simple command costs one model call. The model only picks tools; the assistant runs them and
  composes the confirmation from their results (core/replies.py). Questions over memory are
  answered the same way: the model calls `search_memory` and the reply quotes the hits, so no
  second call is made to phrase an answer (the stronger model is used for such questions instead).
- Small talk ("thanks", "hi") and everything Pixie does on its own (reminders, digests) cost no call.
- The prompt's static prefix is byte-identical across turns (core/context.py), so caches apply.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from core.brain import Brain, BrainInput, Thought, ToolCall
from core.context import Budget, ContextPack, Refs, approx_tokens, build_messages, fit, static_prefix
from core.llm import ModelRequest, ModelResponse, Outcome, Provider, Router, Tier, Usage, choose_tier
from core.tools import TOOLS
from core.toolschema import MAX_CALLS, check_call
from core.usage import UsageEvent, cost_usd

log = logging.getLogger(__name__)

NAMES = {"anthropic": "Claude", "openai": "OpenAI"}
OFFLINE_NOTE = "(answered offline — the model isn't reachable right now)"
MAX_REPLY = 1500

_SMALL_TALK = {
    "greeting": {"hi", "hello", "hey", "hiya", "yo", "good morning", "good afternoon", "good evening", "morning"},
    "thanks": {"thanks", "thank you", "thx", "ty", "cheers", "thanks a lot", "thank you so much", "many thanks"},
    "ack": {"ok", "okay", "k", "cool", "great", "nice", "got it", "perfect", "sounds good", "👍", "alright"},
}


def small_talk(text: str) -> str | None:
    """The canned reply kind for a bare greeting, thanks or ok — nothing a model is needed for."""
    words = re.sub(r"[^\w\s👍]", " ", text.lower()).split()
    if words and words[-1] == "pixie":
        words = words[:-1]
    phrase = " ".join(words)
    return next((kind for kind, phrases in _SMALL_TALK.items() if phrase in phrases), None)


@dataclass(frozen=True)
class TurnReport:
    """What one model turn did (for tests, benchmarks and logs)."""

    tier: Tier
    outcome: Outcome
    prompt_tokens: int  # approximate, as sent
    context_seconds: float


class LLMBrain:
    """Thinks with a model through the router; answers offline when no provider can.

    A function from data to a decision: the assistant reads the context before (`reads_context`)
    and records the usage this returns after; no database handle is held while a model answers.
    """

    def __init__(self, router: Router, fallback: Brain,
                 prices: dict[str, tuple[float, float, float, float]] | None = None, budget: Budget | None = None,
                 max_tokens: int = 1024, observer: Callable[[TurnReport], None] | None = None) -> None:
        self.router = router
        self.fallback = fallback
        self.prices = prices or {}
        self.budget = budget or Budget()
        self.max_tokens = max_tokens
        self.observer = observer

    def reads_context(self, text: str) -> bool:
        """Everything but small talk is thought about with the user's context."""
        return small_talk(text) is None

    async def think(self, request: BrainInput) -> Thought:
        """Decide what to do about one message."""
        kind = small_talk(request.text)
        if kind is not None:
            return Thought(reply_kind=kind)
        t0 = time.perf_counter()
        tz = request.tz or str(request.now.tzinfo)
        pack = request.context or ContextPack(request.now, tz)
        prefix = static_prefix()
        messages, refs = build_messages(pack, request.text, fit(self.budget, prefix.tokens, request.text))
        user = hashlib.sha256(str(request.user_id).encode()).hexdigest()[:20] if request.user_id else None
        tier = choose_tier(request.text)
        context_seconds = time.perf_counter() - t0

        def build(provider: Provider, model: str, timeout: float) -> ModelRequest:
            return ModelRequest(model, prefix.system, prefix.tools, messages, self.max_tokens, timeout,
                                cache_key=prefix.cache_key, user=user)

        outcome = await self.router.complete(build, tier)
        if self.observer is not None:
            self.observer(TurnReport(tier, outcome, prefix.tokens + sum(approx_tokens(m.text) for m in messages),
                                     context_seconds))
        if outcome.response is None:
            thought = await self._offline(request)
        else:
            thought = self.cross_checked(request, self.to_thought(outcome.response, refs))
            if outcome.fell_back:
                first = outcome.attempts[0].provider
                thought = replace(thought, note=f"(answered by {NAMES.get(outcome.provider or '', outcome.provider)}"
                                                f" — {NAMES.get(first, first)} isn't answering right now)")
        if request.user_id is not None:  # recorded in the turn's write transaction
            thought = replace(thought, usage=tuple(self._events(request, outcome)))
        return thought

    async def _offline(self, request: BrainInput) -> Thought:
        try:
            thought = await self.fallback.think(request)
        except Exception:  # the user always gets an answer
            log.exception("the offline brain failed too")
            thought = Thought(reply_kind="unknown")
        return replace(thought, note=OFFLINE_NOTE)

    def to_thought(self, response: ModelResponse, refs: Refs | None = None) -> Thought:
        """Validated tool calls, or the model's own short reply; a call that fails validation runs nothing."""
        if not response.calls:
            text = response.text.strip()
            if not text:
                return Thought(reply_kind="unknown")
            return Thought(text=text if len(text) <= MAX_REPLY else text[: MAX_REPLY - 1] + "…")
        if len(response.calls) > MAX_CALLS:
            return Thought(text=f"That's {len(response.calls)} changes at once — more than I make in one go. "
                                "Nothing was changed; could you split it up?")
        calls = []
        for call in response.calls:
            checked = check_call(call)
            if checked.args is None:
                log.warning("refused a model tool call %s: %s", call.name, checked.problem)
                return Thought(text=f"I couldn't act on that safely ({checked.problem}). Nothing was changed — "
                                    "could you say it another way?")
            calls.append(ToolCall(checked.name, refs.resolve(checked.args) if refs else checked.args))
        return Thought(calls=calls)

    @staticmethod
    def cross_checked(request: BrainInput, thought: Thought) -> Thought:
        """The model's writes, weighed against the offline understanding of the same words.

        When the offline brain hears a message that must change nothing (small talk, thanks, a complaint,
        a hypothetical, a negation, news about the past, an errand it can only offer), the model's write
        is a guess: it gets no confidence, so the assistant asks (safety.confirm) instead of running it.
        Otherwise the model's calls stand as they are. Reads are never held back.
        """
        if not any(c.name in TOOLS and TOOLS[c.name].changes for c in thought.calls):
            return thought
        from core.understand import changes_nothing, understand

        found = understand(request.text, request.now)
        if not changes_nothing(found):
            return thought
        log.info("held a model write for a yes: the offline brain reads %r as %s", request.text[:80], found.label)
        return replace(thought, confidence=0.0, text=thought.text or found.say)

    def _events(self, request: BrainInput, outcome: Outcome) -> list[UsageEvent]:
        assert request.user_id is not None
        day = request.now.date()
        merged: dict[tuple[str, str], UsageEvent] = {}

        def add(event: UsageEvent) -> None:
            key = (event.provider, event.model)
            old = merged.get(key)
            if old is None:
                merged[key] = event
                return
            u, v = old.usage, event.usage
            merged[key] = replace(old, calls=old.calls + event.calls, errors=old.errors + event.errors,
                                  fallbacks=old.fallbacks + event.fallbacks,
                                  usage=Usage(u.input_tokens + v.input_tokens, u.output_tokens + v.output_tokens,
                                              u.cache_read_tokens + v.cache_read_tokens,
                                              u.cache_write_tokens + v.cache_write_tokens),
                                  cost=None if old.cost is None or event.cost is None else old.cost + event.cost)

        for a in outcome.attempts:
            if a.error is not None:
                add(UsageEvent(request.user_id, day, a.provider, a.model, errors=1, cost=Decimal(0)))
        if outcome.response is not None and outcome.provider is not None:
            r = outcome.response
            add(UsageEvent(request.user_id, day, outcome.provider, r.model, r.usage, calls=1,
                           fallbacks=int(outcome.fell_back), cost=cost_usd(r.model, r.usage, self.prices)))
        elif outcome.attempts or self.router.providers:
            add(UsageEvent(request.user_id, day, "offline", "rules", fallbacks=1, cost=Decimal(0)))
        return list(merged.values())

    async def aclose(self) -> None:
        """Close every provider's HTTP client."""
        for p in self.router.providers:
            await p.client.aclose()


__all__ = ["OFFLINE_NOTE", "LLMBrain", "TurnReport", "small_talk"]
