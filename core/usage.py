"""Model usage and cost per user per day: recorded after every model turn, shown by `pixie usage`."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.llm import Usage

log = logging.getLogger(__name__)

# USD per million tokens: (input, output, cache read, cache write). Published list prices; a model
# that is not here (a local Ollama model, a newer name) is recorded with its tokens and no cost.
# PIXIE_LLM_PRICES='{"my-model": [0.5, 1.5, 0.05, 0.6]}' adds or overrides entries.
PRICES: dict[str, tuple[float, float, float, float]] = {
    "claude-haiku-4-5": (1.0, 5.0, 0.10, 1.25),
    "claude-sonnet-4-5": (3.0, 15.0, 0.30, 3.75),
    "claude-sonnet-4-6": (3.0, 15.0, 0.30, 3.75),
    "claude-opus-4-5": (5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-6": (5.0, 25.0, 0.50, 6.25),
    "gpt-4.1": (2.0, 8.0, 0.50, 2.0),
    "gpt-4.1-mini": (0.40, 1.60, 0.10, 0.40),
    "gpt-4.1-nano": (0.10, 0.40, 0.025, 0.10),
    "gpt-4o-mini": (0.15, 0.60, 0.075, 0.15),
    "gpt-5": (1.25, 10.0, 0.125, 1.25),
    "gpt-5.1": (1.25, 10.0, 0.125, 1.25),
    "gpt-5-mini": (0.25, 2.0, 0.025, 0.25),
    "gpt-5-nano": (0.05, 0.40, 0.005, 0.05),
}


def price_table(override: str | None = None) -> dict[str, tuple[float, float, float, float]]:
    """The built-in prices with `PIXIE_LLM_PRICES` (a JSON object) on top; a bad override is ignored loudly."""
    table = dict(PRICES)
    if override:
        try:
            extra = json.loads(override)
            for model, p in extra.items():
                table[str(model)] = (float(p[0]), float(p[1]), float(p[2]), float(p[3]))
        except (ValueError, TypeError, IndexError, AttributeError):
            log.warning("PIXIE_LLM_PRICES is not a JSON object of model: [in, out, cache_read, cache_write]")
    return table


def cost_usd(model: str, usage: Usage, prices: dict[str, tuple[float, float, float, float]]) -> Decimal | None:
    """What one call cost in USD, or None when the model's price is unknown."""
    p = prices.get(model)
    if p is None:
        # Dated snapshots ("claude-haiku-4-5-20251001", "gpt-4.1-2025-04-14") cost what their alias costs.
        p = next((v for k, v in sorted(prices.items(), key=lambda kv: -len(kv[0])) if model.startswith(k + "-")),
                 None)
    if p is None:
        return None
    plain = max(0, usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens)
    total = (plain * p[0] + usage.output_tokens * p[1] + usage.cache_read_tokens * p[2]
             + usage.cache_write_tokens * p[3]) / 1_000_000
    return Decimal(str(round(total, 8)))


@dataclass(frozen=True)
class UsageEvent:
    """What one model turn (or one failed attempt, or one offline fallback) adds to a user's day."""

    user_id: uuid.UUID
    day: dt.date  # the user's local day
    provider: str  # anthropic | openai | offline
    model: str
    usage: Usage = Usage()
    calls: int = 0  # answered calls
    errors: int = 0  # failed attempts
    fallbacks: int = 0  # turns answered by a fallback (another provider, or the offline rules)
    cost: Decimal | None = None


async def record_usage(session: AsyncSession, events: Sequence[UsageEvent]) -> None:
    """Add model usage to per-user daily rows, in the caller's (the turn's write) transaction.

    One upsert per row and no extra commit on the user's wait; a turn that rolls back loses its
    count too. A failure is logged, not raised: the reply is already decided.
    """
    if not events:
        return
    now = dt.datetime.now(dt.UTC)
    try:
        async with session.begin_nested():
            await session.execute(_UPSERT, [
                {"id": uuid.uuid4(), "user_id": e.user_id, "day": e.day, "provider": e.provider, "model": e.model,
                 "calls": e.calls, "errors": e.errors, "fallbacks": e.fallbacks,
                 "input_tokens": e.usage.input_tokens, "cache_read_tokens": e.usage.cache_read_tokens,
                 "cache_write_tokens": e.usage.cache_write_tokens, "output_tokens": e.usage.output_tokens,
                 "cost_usd": e.cost or Decimal(0), "priced": e.cost is not None or e.calls == 0, "now": now}
                for e in events])
    except Exception:
        log.exception("could not record model usage")


# Plain SQL, prepared once: this runs on every model turn, inside the user's wait.
_UPSERT = text("""
INSERT INTO llm_usage (id, user_id, day, provider, model, calls, errors, fallbacks, input_tokens,
                       cache_read_tokens, cache_write_tokens, output_tokens, cost_usd, priced, updated_at)
VALUES (:id, :user_id, :day, :provider, :model, :calls, :errors, :fallbacks, :input_tokens,
        :cache_read_tokens, :cache_write_tokens, :output_tokens, :cost_usd, :priced, :now)
ON CONFLICT (user_id, day, provider, model) DO UPDATE SET
    calls = llm_usage.calls + excluded.calls, errors = llm_usage.errors + excluded.errors,
    fallbacks = llm_usage.fallbacks + excluded.fallbacks,
    input_tokens = llm_usage.input_tokens + excluded.input_tokens,
    cache_read_tokens = llm_usage.cache_read_tokens + excluded.cache_read_tokens,
    cache_write_tokens = llm_usage.cache_write_tokens + excluded.cache_write_tokens,
    output_tokens = llm_usage.output_tokens + excluded.output_tokens,
    cost_usd = llm_usage.cost_usd + excluded.cost_usd, priced = llm_usage.priced AND excluded.priced,
    updated_at = excluded.updated_at
""")


async def usage_rows(sessions: async_sessionmaker, user_id: uuid.UUID | None, since: dt.date) -> list[dict[str, Any]]:
    """Daily usage rows (newest day first) for one user, or for everyone with their names."""
    from db.models import LlmUsage, User

    query = (select(LlmUsage, User.name).outerjoin(User, User.id == LlmUsage.user_id)
             .where(LlmUsage.day >= since).order_by(LlmUsage.day.desc(), User.name, LlmUsage.provider,
                                                    LlmUsage.model))
    if user_id is not None:
        query = query.where(LlmUsage.user_id == user_id)
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    return [{"day": u.day.isoformat(), "user": name or str(u.user_id), "provider": u.provider, "model": u.model,
             "calls": u.calls, "errors": u.errors, "fallbacks": u.fallbacks, "input_tokens": u.input_tokens,
             "cache_read_tokens": u.cache_read_tokens, "cache_write_tokens": u.cache_write_tokens,
             "output_tokens": u.output_tokens, "cost_usd": float(u.cost_usd) if u.priced else None}
            for u, name in rows]


async def total_cost(sessions: async_sessionmaker, user_id: uuid.UUID, day: dt.date) -> Decimal:
    """A user's known cost on one day (for tests and the doctor)."""
    from db.models import LlmUsage

    async with sessions() as session:
        return Decimal(await session.scalar(select(func.coalesce(func.sum(LlmUsage.cost_usd), 0))
                                            .where(LlmUsage.user_id == user_id, LlmUsage.day == day)) or 0)


__all__ = ["PRICES", "UsageEvent", "cost_usd", "record_usage", "price_table", "total_cost", "usage_rows"]
