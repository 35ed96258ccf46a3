"""Memory jobs: give every stored item a vector of the configured model, off the message hot path."""

from __future__ import annotations

from typing import Any

from jobs.context import job_context


async def embed_pending(ctx: dict[str, Any], batch: int = 256, budget: float = 50.0) -> int:
    """Embed items still waiting for a vector (new ones, or all of them after a model change).

    Bounded by `budget` seconds so a big re-embedding is spread over runs; idempotent, so a
    retried or overlapping run only repeats work, never corrupts it. Returns how many it embedded.
    """
    jc = job_context(ctx)
    return await jc.memory.embed_pending(jc.sessions, batch=batch, budget=budget)


__all__ = ["embed_pending"]
