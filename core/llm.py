"""Talking to a model, provider-neutral: messages, tool calls, usage, and retry → fallback routing.

Provider adapters (under `connectors/llm/`) implement `ModelClient`; nothing here imports an SDK.
The `Router` tries each configured provider in turn inside one time budget: transient failures
(429, 5xx, 529, timeouts, dropped connections) are retried with backoff — honouring the
provider's `retry-after` — until that provider's share of the budget is spent, then the next
provider is asked. Only when every provider failed does the caller fall back to the offline brain.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["user", "assistant", "tool"]
Tier = Literal["fast", "strong"]
ErrorKind = Literal["rate_limit", "overloaded", "server", "timeout", "connection", "auth", "bad_request",
                    "invalid_response"]
RETRYABLE: frozenset[str] = frozenset({"rate_limit", "overloaded", "server", "timeout", "connection"})


@dataclass(frozen=True)
class ToolSpec:
    """A tool as a model sees it: name, what it is for, and the JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ModelToolCall:
    """A tool call the model asked for. `args` is None when its JSON could not be read (`raw` keeps it)."""

    id: str
    name: str
    args: dict[str, Any] | None
    raw: str = ""


@dataclass(frozen=True)
class ModelMessage:
    """One message of the conversation sent to the model."""

    role: Role
    text: str = ""
    calls: tuple[ModelToolCall, ...] = ()  # assistant messages: the calls it made
    call_id: str | None = None  # tool messages: which call this answers


@dataclass(frozen=True)
class ModelRequest:
    """Everything one model call needs; `system` + `tools` are the static, cacheable prefix."""

    model: str
    system: str
    tools: tuple[ToolSpec, ...]
    messages: tuple[ModelMessage, ...]
    max_tokens: int = 1024
    timeout: float = 15.0
    cache_key: str | None = None  # OpenAI prompt_cache_key; Anthropic uses cache_control instead
    user: str | None = None  # an opaque per-user id some providers use for abuse detection


@dataclass(frozen=True)
class Usage:
    """Tokens one call used. `input_tokens` counts every prompt token, cached or not."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True)
class ModelResponse:
    """What the model answered: text, tool calls, and what it cost."""

    text: str
    calls: tuple[ModelToolCall, ...]
    usage: Usage
    model: str
    stop_reason: str | None = None


class ModelClient(Protocol):
    """A provider adapter: one request in, one response out, or a `ModelError`."""

    provider: str

    async def complete(self, request: ModelRequest) -> ModelResponse: ...

    async def aclose(self) -> None: ...


class ModelError(Exception):
    """A failed model call, classified so the router knows whether to retry."""

    def __init__(self, kind: ErrorKind, message: str = "", status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message or kind)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Whether asking the same provider again may work."""
        return self.kind in RETRYABLE


def kind_for_status(status: int) -> ErrorKind:
    """How an HTTP status from a provider is handled."""
    if status == 429:
        return "rate_limit"
    if status == 529:
        return "overloaded"
    if status in (408, 409) or status >= 500:
        return "server" if status >= 500 else "timeout"
    if status in (401, 403):
        return "auth"
    return "bad_request"


def retry_after_seconds(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date); None if absent."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


# ---------------------------------------------------------------- routing: which model

_STEPS = re.compile(r"\b(and then|then|after that|also|as well as)\b|[;\n]|\?.*\?", re.I)
_RECALL = re.compile(
    r"\b(remember(ed)?|recall|what did i|what was|what's my|what is my|whats my|who|where did|when is|when was|"
    r"do you know|did i (tell|say|mention)|again\?|why|how (many|much|often|long))\b", re.I)
_TELLING = re.compile(r"^\s*(please\s+)?(remember|keep in mind|note)\b", re.I)


def choose_tier(text: str) -> Tier:
    """Short, simple commands go to the cheaper model; several steps or questions over memory to the stronger."""
    words = len(text.split())
    if words > 40 or (_STEPS.search(text) and words > 12):
        return "strong"
    if _RECALL.search(text) and not _TELLING.search(text):
        return "strong"
    return "fast"


# ---------------------------------------------------------------- fallback across providers

@dataclass(frozen=True)
class Provider:
    """One configured provider: its adapter and the model for each tier."""

    name: str
    client: ModelClient
    fast_model: str
    strong_model: str

    def model_for(self, tier: Tier) -> str:
        """The model this provider uses for `tier`."""
        return self.strong_model if tier == "strong" else self.fast_model


@dataclass(frozen=True)
class Attempt:
    """One call the router made, and how it ended."""

    provider: str
    model: str
    error: str | None  # an ErrorKind, or None when it answered
    seconds: float


@dataclass
class Outcome:
    """The router's result: the response (None when every provider failed) and every attempt made."""

    response: ModelResponse | None
    provider: str | None
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def fell_back(self) -> bool:
        """Whether the answer came from a provider other than the first one tried."""
        return bool(self.attempts) and self.provider is not None and self.provider != self.attempts[0].provider

    @property
    def provider_seconds(self) -> float:
        """Time spent waiting on providers (calls only, not backoff)."""
        return sum(a.seconds for a in self.attempts)


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to keep asking."""

    budget: float = 20.0  # seconds for the whole turn, across every provider
    call_timeout: float = 15.0  # seconds for one call
    attempts_per_provider: int = 3
    backoff: float = 0.5  # first backoff in seconds; doubles per retry, with jitter
    min_call_time: float = 0.25  # a provider with less time than this left is skipped


Sleep = Callable[[float], Awaitable[None]]


class Router:
    """Asks providers in order, retrying transient failures inside one time budget."""

    def __init__(self, providers: list[Provider], policy: RetryPolicy | None = None,
                 sleep: Sleep = asyncio.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.providers = providers
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock

    async def complete(self, build: Callable[[Provider, str, float], ModelRequest], tier: Tier) -> Outcome:
        """Ask for one response; `build(provider, model, timeout)` makes the request for each attempt."""
        p = self.policy
        start = self._clock()
        deadline = start + p.budget
        outcome = Outcome(None, None)
        for index, provider in enumerate(self.providers):
            left = len(self.providers) - index
            # Each provider gets a fair share of what is left, so a later one still has time to answer.
            share_end = self._clock() + (deadline - self._clock()) / left
            model = provider.model_for(tier)
            for attempt in range(p.attempts_per_provider):
                remaining = share_end - self._clock()
                if remaining < p.min_call_time:
                    break
                timeout = min(p.call_timeout, remaining)
                t0 = self._clock()
                try:
                    response = await provider.client.complete(build(provider, model, timeout))
                except ModelError as exc:
                    outcome.attempts.append(Attempt(provider.name, model, exc.kind, self._clock() - t0))
                    if not exc.retryable or attempt + 1 >= p.attempts_per_provider:
                        break
                    wait = exc.retry_after if exc.retry_after is not None else \
                        p.backoff * (2 ** attempt) * random.uniform(0.5, 1.0)
                    if self._clock() + wait + p.min_call_time > share_end:
                        break  # the provider asked us to wait longer than we can: go to the next one
                    await self._sleep(wait)
                    continue
                outcome.attempts.append(Attempt(provider.name, model, None, self._clock() - t0))
                outcome.response, outcome.provider = response, provider.name
                return outcome
        return outcome


__all__ = ["RETRYABLE", "Attempt", "ModelClient", "ModelError", "ModelMessage", "ModelRequest", "ModelResponse",
           "ModelToolCall", "Outcome", "Provider", "RetryPolicy", "Router", "ToolSpec", "Usage", "choose_tier",
           "kind_for_status", "retry_after_seconds"]
