"""Reading the mailbox: a catch-up from the stored cursor (`drain`), and the long-running IDLE loop (`watch`).

A batch (up to BATCH messages, fetched in one FETCH) is handled in parallel: each message's
outcome is committed in its own transaction (`Intake.handle`), at most PARALLEL at a time (each
holds one database connection). Then, in this order: the batch's handled messages are moved out of
the inbox (one command per folder), and the cursor is stored. A process killed anywhere in between
loses nothing and doubles nothing: a message not yet moved is fetched again and recognised by its
key; one moved is gone from the inbox; the cursor only saves re-reading. When one message cannot be
handled (the database went away), the others are still moved, the cursor stays, and the error is
raised: that message is fetched again on the next catch-up.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import async_sessionmaker

from connectors.imap import IDLE_MAX, ImapMailbox
from connectors.mail_intake import Intake, Outcome
from core import accounts
from core.sources import AuthExpired, Mailbox, MailCursor, NotReady, RawMail

log = logging.getLogger(__name__)

BATCH = 50
PARALLEL = 6  # messages handled at once (each holds a database connection; the pool has 10 + overflow)
IDLE_EVERY = min(IDLE_MAX, 10 * 60.0)  # re-IDLE this often: a dead connection shows within minutes


@dataclass
class Drained:
    """What one catch-up did."""

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def notifications(self) -> list[uuid.UUID]:
        """The notifications queued for users (to deliver now, where a worker can)."""
        return [o.notification_id for o in self.outcomes if o.notification_id is not None]


async def _cursor(sessions: async_sessionmaker, account_id: uuid.UUID) -> MailCursor | None:
    async with sessions() as session:
        account = await accounts.get(session, account_id)
    return MailCursor.from_json(account.cursor) if account is not None else None


async def handle_all(intake: Intake, mails: Sequence[RawMail],
                     parallel: int = PARALLEL) -> list[Outcome | BaseException]:
    """Each mail's outcome (or the error that stopped it), in order, at most `parallel` handled at once."""
    gate = asyncio.Semaphore(max(1, parallel))

    async def one(mail: RawMail) -> Outcome:
        async with gate:
            return await intake.handle(mail)

    return list(await asyncio.gather(*(one(m) for m in mails), return_exceptions=True))


async def drain(box: Mailbox, intake: Intake, batch: int = BATCH, parallel: int = PARALLEL) -> Drained:
    """Handle everything in the inbox after the stored cursor, batch by batch, until nothing is new."""
    done = Drained()
    while True:
        cursor = await _cursor(intake.sessions, intake.account_id)
        found = await box.fetch_new(cursor, batch)
        results = await handle_all(intake, found.messages, parallel)
        to: dict[str, list[RawMail]] = {}
        failed: BaseException | None = None
        for mail, result in zip(found.messages, results, strict=True):
            if isinstance(result, BaseException):
                failed = failed or result
                log.warning("mail uid %s: not handled (%s); it is read again later", mail.uid, type(result).__name__)
                continue
            to.setdefault(result.folder, []).append(mail)
            done.outcomes.append(result)
            if result.status != "duplicate":
                log.info("mail uid %s: %s%s", mail.uid, result.status,
                         f" ({result.reason})" if result.reason else "")
        for folder, mails in to.items():  # only now: every one of them is stored
            await box.mark_handled(mails, folder)
        if failed is not None:  # the cursor stays before the one not handled
            raise failed
        if found.cursor != cursor:
            async with intake.sessions() as session, session.begin():
                await accounts.save_cursor(session, intake.account_id, found.cursor.as_json())
        if len(found.messages) < batch:
            return done


async def watch(open_box: Callable[[], AbstractAsyncContextManager[ImapMailbox]], intake: Intake,
                stop: asyncio.Event, *, idle: float = IDLE_EVERY, backoff: float = 5.0, backoff_max: float = 300.0,
                on_drained: Callable[[Drained], object] | None = None) -> None:
    """Catch up, then IDLE (re-issued at least every 25 minutes) and catch up on news, until `stop` is set.

    Any error of the connection (including an IDLE that timed out on a dead socket) closes it;
    after a pause the loop reconnects and catches up by UID, so nothing that arrived meanwhile is
    missed. A refused login (`AuthExpired`) ends the loop: retrying would not fix it.
    """
    delay = backoff
    while not stop.is_set():
        try:
            async with open_box() as box:
                delay = backoff
                while not stop.is_set():
                    drained = await drain(box, intake)
                    if on_drained is not None:
                        on_drained(drained)
                    waiter = asyncio.ensure_future(box.wait(idle))
                    stopper = asyncio.ensure_future(stop.wait())
                    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                    stopper.cancel()
                    if not waiter.done():  # stopping: closing the box ends the IDLE within a second
                        await box.close()
                        await asyncio.gather(waiter, return_exceptions=True)
                        break
                    waiter.result()  # raises what the IDLE raised
        except AuthExpired:
            raise
        except (NotReady, OSError) as exc:
            log.warning("mailbox: %s; reconnecting in %.0fs", exc, delay)
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                pass
            delay = min(backoff_max, delay * 2)
