"""Periodic hooks for outside data: calendar sync and mail polling, one job per connected account.

The accounts live in the database (core.accounts); a connector (Google Calendar, Outlook, IMAP)
registers the code that syncs one account of its provider. Until one registers, the hooks find
nothing to do. How a sync ends decides what happens next (core.sources):

* `AuthExpired` → the account is marked `auth_expired` (no more syncs until it is reconnected)
  and its user is told, once, to reconnect;
* `NotReady` → arq `Retry(defer=…)`: the service's `retry_after`, else exponential backoff;
* anything else → the account's `last_error` is recorded (`pixie doctor` shows it), it backs off,
  and the job raises.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from arq import Retry

from core import accounts
from core.sources import AuthExpired, NotReady
from jobs import delivery
from jobs.context import JobContext, job_context

log = logging.getLogger(__name__)

Kind = Literal["calendar", "mail"]
MAX_TRIES = 10  # attempts of one sync job (NotReady retries) before it counts as a failure


class AccountSource(Protocol):
    """One provider's sync: what the worker calls for each of its connected accounts."""

    provider: str  # "google", "outlook", "imap": accounts.provider
    kind: Kind

    async def sync(self, jc: JobContext, account: accounts.Account) -> Sequence[uuid.UUID] | None:
        """One incremental sync (or poll) of one account; idempotent. Raises core.sources errors.

        Returns the notifications it queued for users (a mail's "added 2 tasks"), delivered at once.
        """
        ...


_SOURCES: dict[str, AccountSource] = {}


def register_source(source: AccountSource) -> None:
    """Make a provider's accounts part of the periodic hooks."""
    _SOURCES[source.provider] = source


def unregister_source(provider: str) -> None:
    """Take a provider out of the hooks (tests; a connector switched off)."""
    _SOURCES.pop(provider, None)


def sources(kind: Kind) -> list[AccountSource]:
    """The registered sources of one kind."""
    return [s for s in _SOURCES.values() if s.kind == kind]


def job_id(account_id: uuid.UUID | str) -> str:
    """One sync job per account at a time: the id dedupes while one is queued, deferred or running."""
    return f"sync:{account_id}"


async def _fan_out(ctx: dict[str, Any], kind: Kind) -> int:
    jc = job_context(ctx)
    providers = [s.provider for s in sources(kind)]
    if not providers:
        return 0
    async with jc.sessions() as session:
        due = await accounts.due(session, kind, providers, jc.now())
    for account_id in due:
        await ctx["redis"].enqueue_job("sync_account", str(account_id), _job_id=job_id(account_id))
    return len(due)


async def sync_calendars(ctx: dict[str, Any]) -> int:
    """Cron hook: enqueue a sync of every connected calendar account that is due."""
    return await _fan_out(ctx, "calendar")


async def poll_mailboxes(ctx: dict[str, Any]) -> int:
    """Cron hook: enqueue a poll of every connected mailbox that is due."""
    return await _fan_out(ctx, "mail")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def _auth_expired(ctx: dict[str, Any], jc: JobContext, account: accounts.Account, exc: AuthExpired) -> None:
    now = jc.now()
    async with jc.sessions() as session, session.begin():
        changed = await accounts.mark_auth_expired(session, account.id, _describe(exc))
        queued = await accounts.queue_reconnect_notice(session, changed, now) if changed is not None else []
    log.warning("%s account %s: access expired; its user is asked to reconnect", account.provider, account.id)
    if jc.notifier is not None:  # else the reminders sweep (or `pixie chat`) finds them
        for nid in queued:
            await ctx["redis"].enqueue_job("deliver", str(nid), _job_id=delivery.job_id(nid, 0))


async def _failed(jc: JobContext, account: accounts.Account, error: str) -> None:
    async with jc.sessions() as session, session.begin():
        await accounts.record_failure(session, account.id, error, jc.now())


async def sync_account(ctx: dict[str, Any], account_id: str) -> str:
    """Sync one account through its provider's source; errors are split as the module says."""
    jc = job_context(ctx)
    async with jc.sessions() as session:
        account = await accounts.get(session, uuid.UUID(account_id))
    if account is None or account.status != "active":
        return "gone" if account is None else account.status
    source = _SOURCES.get(account.provider)
    if source is None:
        return f"no source for {account.provider!r}"
    try:
        queued = await source.sync(jc, account)
    except AuthExpired as exc:
        await _auth_expired(ctx, jc, account, exc)
        return "auth_expired"
    except NotReady as exc:
        tries = int(ctx.get("job_try", 1))
        if tries >= MAX_TRIES:
            await _failed(jc, account, f"still not ready after {tries} tries — {_describe(exc)}")
            raise
        delay = exc.retry_after or min(jc.backoff_max, jc.backoff_base * 2 ** (tries - 1))
        log.warning("%s account %s not ready (%s); retrying in %.0fs", account.provider, account.id, exc, delay)
        raise Retry(defer=dt.timedelta(seconds=delay)) from exc
    except Exception as exc:  # SourceFailed, a wrong secret key, a bug: recorded, then fails loudly
        await _failed(jc, account, _describe(exc))
        raise
    async with jc.sessions() as session, session.begin():
        await accounts.mark_synced(session, account.id, jc.now())
    if jc.notifier is not None:  # else the reminders sweep (or `pixie chat`) finds them
        for nid in queued or ():
            await ctx["redis"].enqueue_job("deliver", str(nid), _job_id=delivery.job_id(nid, 0))
    return "synced"
