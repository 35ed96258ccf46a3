"""What the platform tests share: a bot serving for the length of a block, admitted owners, row counts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from sqlalchemy import func, select

from bots.app import Runtime
from core.access import parse_owners


class Runs(Protocol):
    async def run(self) -> None: ...


@contextlib.asynccontextmanager
async def serving(bot: Runs, ready: Callable[[], Awaitable[object]]) -> AsyncIterator[None]:
    """Run `bot` in the background until the block ends; `ready` waits until it is listening."""
    task = asyncio.create_task(bot.run())
    try:
        await ready()
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def admit(rt: Runtime, platform: str, *ids: object) -> None:
    """Make these platform users the owners, as PIXIE_OWNERS would."""
    rt.assistant.access.owners = parse_owners(",".join(f"{platform}:{i}" for i in ids))


async def count(rt: Runtime, model: Any) -> int:
    """How many rows `model`'s table holds."""
    async with rt.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)
