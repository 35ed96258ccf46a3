"""Periodic hooks for outside data: calendar sync and mail polling, one job per connected account.

Connectors (Google Calendar, Outlook, IMAP) plug in by registering an `AccountSource`; until one
is registered, the hooks find no accounts and return. A source raises `PlatformUnavailable` (or
any exception with a `retry_after` attribute) for "try later", which becomes arq `Retry`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Literal, Protocol

from arq import Retry

from core.types import PlatformUnavailable
from jobs.context import JobContext, job_context

log = logging.getLogger(__name__)

Kind = Literal["calendar", "mail"]


class AccountSource(Protocol):
    """One connector's accounts: which need a sync now, and how to sync one."""

    name: str  # "google", "outlook", "imap"
    kind: Kind

    async def accounts(self, jc: JobContext) -> list[str]:
        """Ids of the connected accounts to sync or poll now."""
        ...

    async def sync(self, jc: JobContext, account_id: str) -> None:
        """One incremental sync (or poll) of one account; idempotent."""
        ...


_SOURCES: dict[str, AccountSource] = {}


def register_source(source: AccountSource) -> None:
    """Make a connector's accounts part of the periodic hooks."""
    _SOURCES[source.name] = source


def sources(kind: Kind) -> list[AccountSource]:
    """The registered sources of one kind."""
    return [s for s in _SOURCES.values() if s.kind == kind]


async def _fan_out(ctx: dict[str, Any], kind: Kind) -> int:
    jc = job_context(ctx)
    count = 0
    for source in sources(kind):
        for account in await source.accounts(jc):
            # One job per account at a time: the id dedupes while a sync of it is queued or running.
            await ctx["redis"].enqueue_job("sync_account", source.name, account,
                                           _job_id=f"sync:{source.name}:{account}")
            count += 1
    return count


async def sync_calendars(ctx: dict[str, Any]) -> int:
    """Cron hook: enqueue a sync of every connected calendar account (none until a connector registers)."""
    return await _fan_out(ctx, "calendar")


async def poll_mailboxes(ctx: dict[str, Any]) -> int:
    """Cron hook: enqueue a poll of every connected mailbox (none until a connector registers)."""
    return await _fan_out(ctx, "mail")


async def sync_account(ctx: dict[str, Any], source_name: str, account_id: str) -> str:
    """Sync one account through its source; "try later" errors become an arq Retry with backoff."""
    jc = job_context(ctx)
    source = _SOURCES.get(source_name)
    if source is None:
        return f"no source {source_name!r}"
    try:
        await source.sync(jc, account_id)
    except Exception as exc:
        retry_after = getattr(exc, "retry_after", None)
        if not isinstance(exc, PlatformUnavailable) and retry_after is None:
            raise  # anything else fails loudly (arq records it)
        tries = int(ctx.get("job_try", 1))
        delay = retry_after or min(jc.backoff_max, jc.backoff_base * 2 ** (tries - 1))
        log.warning("%s account %s unavailable (%s); retrying in %.0fs", source_name, account_id, exc, delay)
        raise Retry(defer=dt.timedelta(seconds=delay)) from exc
    return "synced"
