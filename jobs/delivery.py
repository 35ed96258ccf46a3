"""Delivering queued notifications through the Notifier: exactly once, retried while a platform is away.

A row of the `notifications` outbox moves queued → sending → sent | failed. A worker claims
rows (row lock + state check) and commits "sending, leased until T" *before* calling the
platform; after the call it commits "sent". A worker SIGKILLed between the two leaves a row
still "sending" after its lease: that row is *in doubt*, and the next claim re-sends it under
the same `note.id`, which the notifier hands the platform as an idempotency key (or checks
first through `DeliveryCheck`). So a crash costs a resend, never a loss, and the platform-side
key keeps the resend from doubling the message. A claim also names its worker (`lease_holder`),
which keeps an alive mark in Redis while it runs (`keep_alive`): a row whose holder's mark is gone
is in doubt after a short grace (JobContext.holder_grace), not only when its lease ends, so a
crash delays it by seconds. Two workers never both hold a row: the claim is a `FOR UPDATE SKIP
LOCKED` read of rows still queued (or in doubt).

Transient failures (`PlatformUnavailable`, timeouts, surprises) are retried with backoff — arq
`Retry(defer=…)` for a single delivery, a deferred single delivery for a row of a batch;
`Undeliverable`, or too many attempts, marks the row failed with `last_error` (`pixie doctor`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from arq import Retry
from sqlalchemy import select, update

from core.notify import pick_identity
from core.outage import Backoff, classify
from core.scheduler import outgoing
from core.types import DeliveryCheck, OutgoingNotification, PlatformUnavailable, Undeliverable
from db.models import Identity, Notification, User
from jobs.context import JobContext, job_context

log = logging.getLogger(__name__)

TERMINAL = "terminal"
HOLDER_TTL = 10  # seconds a worker's alive mark lasts in Redis …
HOLDER_EVERY = 3.0  # … refreshed this often while the worker runs
MAX_BATCH = 50  # notifications per batch job, all sent at once: each within the lease, no queueing


@dataclass(frozen=True)
class Claim:
    """A notification this worker now holds, with where it goes."""

    note: OutgoingNotification
    in_doubt: bool  # an earlier attempt may have reached the platform
    attempts: int


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended: sent, retry (after `delay` s), or failed."""

    kind: str
    reason: str | None = None
    delay: float = 0.0
    in_doubt: bool = False


def holder_key(holder: str) -> str:
    """The Redis key that says worker `holder` is alive."""
    return f"pixie:holder:{holder}"


async def keep_alive(redis: Any, holder: str) -> None:
    """Keep this worker's alive mark in Redis until cancelled (then remove it); Redis being away is waited out."""
    try:
        while True:
            try:
                await redis.set(holder_key(holder), b"1", ex=HOLDER_TTL)
            except Exception as exc:  # Redis is away: the worker says so elsewhere; the mark returns with it
                log.debug("could not renew the worker's alive mark: %s", exc)
            await asyncio.sleep(HOLDER_EVERY)
    finally:
        try:
            await asyncio.wait_for(redis.delete(holder_key(holder)), 1.0)
        except Exception:  # it expires by itself
            pass


async def dead_holders(redis: Any, holders: set[str]) -> set[str]:
    """Those of `holders` whose alive mark is gone: their worker died. Nobody, when Redis cannot be asked."""
    if redis is None or not holders:
        return set()
    ordered = sorted(holders)
    try:
        marks = await redis.mget([holder_key(h) for h in ordered])
    except Exception:
        return set()
    return {h for h, mark in zip(ordered, marks, strict=True) if mark is None}


def abandoned(jc: JobContext, lease_until: dt.datetime | None, holder: str | None, now: dt.datetime,
              dead: set[str]) -> bool:
    """Whether a "sending" row is in doubt: its lease ran out, or its worker died a while after claiming it."""
    if lease_until is None:
        return False
    return lease_until <= now or (holder in dead and lease_until - jc.lease + jc.holder_grace <= now)


def route(user: User, idents: Sequence[Identity], kind: str,
          running: set[str] | None = None) -> tuple[str, str | None] | None:
    """(platform, chat): the platform the user chose (the digest maybe to a channel), else where they last spoke —
    among the `running` platforms (all of the user's when not known), as the notifier picks (pick_identity)."""
    available = set(running) if running else {i.platform for i in idents}
    target = pick_identity(list(idents), user.digest_platform, available)
    if target is None:
        return None
    if kind == "digest" and user.digest_channel and target.platform == user.digest_platform:
        return target.platform, user.digest_channel
    return target.platform, target.chat_id


async def claim(jc: JobContext, ids: Sequence[uuid.UUID], redis: Any = None) -> list[Claim]:
    """Take these notifications for delivery; skipped: sent, failed, held by a live worker, or terminal-only.

    With `redis`, a row held by a worker whose alive mark is gone is taken too (see `abandoned`).
    """
    now = jc.now()
    async with jc.sessions() as session, session.begin():
        found = (await session.execute(
            select(Notification.id, Notification.user_id, Notification.kind, Notification.text,
                   Notification.task_id, Notification.key, Notification.status, Notification.lease_until,
                   Notification.lease_holder, Notification.attempts)
            .where(Notification.id.in_(ids)).order_by(Notification.due_at)
            .with_for_update(skip_locked=True))).all()
        dead = await dead_holders(redis, {n.lease_holder for n in found if n.status == "sending" and n.lease_holder})
        rows = [n for n in found if n.status == "queued" or (
            n.status == "sending" and abandoned(jc, n.lease_until, n.lease_holder, now, dead))]
        if not rows:
            return []
        owners = {r.user_id for r in rows}
        running = set(getattr(jc.notifier, "senders", None) or ())  # the platforms this worker can reach
        users = {u.id: u for u in await session.scalars(select(User).where(User.id.in_(owners)))}
        idents: dict[uuid.UUID, list[Identity]] = defaultdict(list)
        for ident in await session.scalars(select(Identity).where(Identity.user_id.in_(owners),
                                                                  Identity.platform != TERMINAL)):
            idents[ident.user_id].append(ident)
        claims, changes = [], []
        for r in rows:
            user = users.get(r.user_id)
            target = route(user, idents[r.user_id], r.kind, running) if user is not None else None
            if target is None:
                continue  # no chat platform: it stays queued for the terminal
            changes.append({"id": r.id, "status": "sending", "lease_until": now + jc.lease,
                            "lease_holder": jc.holder, "attempts": r.attempts + 1, "platform": target[0]})
            note = dataclasses.replace(outgoing(r), platform=target[0], chat_id=target[1])  # type: ignore[arg-type]
            claims.append(Claim(note, r.status == "sending", r.attempts + 1))
        if changes:
            await session.execute(update(Notification), changes)
        return claims


def backoff(jc: JobContext, attempts: int, retry_after: float | None) -> float:
    """Seconds before the next try: the platform's own hint, else exponential with jitter."""
    if retry_after is not None and retry_after > 0:
        return min(jc.backoff_max, retry_after) * random.uniform(1.0, 1.1)
    return min(jc.backoff_max, jc.backoff_base * 2 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)


async def _polished(jc: JobContext, c: Claim) -> OutgoingNotification:
    """The digest polished by a model once (stored, so a retry sends the same words); else as is."""
    if jc.polish is None or c.note.kind != "digest" or c.attempts > 1:
        return c.note
    try:
        async with asyncio.timeout(jc.send_timeout):
            text = (await jc.polish(c.note)).strip()
    except Exception:  # the plain digest is a fine digest
        log.warning("digest polish failed; sending it as composed", exc_info=True)
        return c.note
    if not text:
        return c.note
    async with jc.sessions() as session, session.begin():
        await session.execute(update(Notification).where(Notification.id == uuid.UUID(c.note.id)).values(text=text))
    return dataclasses.replace(c.note, text=text)


async def attempt(jc: JobContext, c: Claim) -> Outcome:
    """Send one claimed note (checking first when in doubt) and say how it went; raises nothing."""
    assert jc.notifier is not None
    note = await _polished(jc, c)
    try:
        if c.in_doubt and isinstance(jc.notifier, DeliveryCheck):
            async with asyncio.timeout(jc.send_timeout):
                if await jc.notifier.delivered(note.user_id, note):
                    return Outcome("sent")
        async with asyncio.timeout(jc.send_timeout):
            await jc.notifier.send(note.user_id, note)
    except Undeliverable as exc:
        log.warning("notification %s undeliverable on %s: %s", note.id, note.platform, exc)
        return Outcome("failed", f"{note.platform}: {exc}")
    except Exception as exc:  # PlatformUnavailable, a timeout, or a surprise: all worth another try
        if not isinstance(exc, PlatformUnavailable | TimeoutError) and classify(exc) is None:
            log.exception("unexpected error delivering notification %s", note.id)
        reason = f"{note.platform}: {exc or type(exc).__name__}"
        if c.attempts >= jc.max_attempts:
            return Outcome("failed", f"gave up after {c.attempts} attempts — {reason}")
        # A timeout is in doubt (the platform may have taken it); other errors are not.
        return Outcome("retry", reason, backoff(jc, c.attempts, getattr(exc, "retry_after", None)),
                       isinstance(exc, TimeoutError))
    return Outcome("sent")


async def record(jc: JobContext, outcomes: Sequence[tuple[Claim, Outcome]]) -> None:
    """Write how the attempts ended (only rows still "sending": a sweep may have moved on).

    A database away right after a send is waited out while the claim lasts: given up, the row would
    look in doubt after its lease and be sent again, twice on a platform without an idempotency key.
    """
    until = asyncio.get_running_loop().time() + jc.lease.total_seconds() * 0.8
    wait = Backoff()
    while True:
        try:
            return await _record(jc, outcomes)
        except Exception as exc:
            if classify(exc) is None or asyncio.get_running_loop().time() >= until:
                raise
            log.warning("could not record %d delivery outcome(s) (%s); trying again", len(outcomes), classify(exc))
            await wait.wait()


async def _record(jc: JobContext, outcomes: Sequence[tuple[Claim, Outcome]]) -> None:
    now = jc.now()
    sent = [uuid.UUID(c.note.id) for c, o in outcomes if o.kind == "sent"]
    async with jc.sessions() as session, session.begin():
        if sent:
            await session.execute(update(Notification).where(Notification.id.in_(sent),
                                                             Notification.status == "sending")
                                  .values(status="sent", sent_at=now, lease_until=None, lease_holder=None,
                                          last_error=None))
        for c, o in outcomes:
            if o.kind == "sent":
                continue
            values: dict[str, Any] = {"status": "failed", "lease_until": None, "lease_holder": None,
                                      "last_error": (o.reason or "")[:2000]}
            if o.kind == "retry":
                later = now + dt.timedelta(seconds=o.delay)
                # In doubt stays "sending" until then, so the retry checks (or re-sends under the same key).
                values.update(status="sending" if o.in_doubt else "queued", next_attempt_at=later,
                              lease_until=later if o.in_doubt else None, lease_holder=None)  # held by no one
            await session.execute(update(Notification).where(Notification.id == uuid.UUID(c.note.id),
                                                             Notification.status == "sending").values(**values))


def job_id(nid: uuid.UUID | str, attempts: int) -> str:
    """A delivery's arq job id. The attempt number lets a crashed attempt's successor run while arq
    still holds the dead job's in-progress key; a duplicate job finds the row claimed or sent."""
    return f"deliver:{nid}:{attempts}"


async def deliver(ctx: dict[str, Any], notification_id: str) -> str:
    """Send one notification (a retry, or one the sweep found); transient failures raise arq Retry."""
    jc = job_context(ctx)
    if jc.notifier is None:  # a worker without chat platforms shares the queue: leave it to one with them
        raise Retry(defer=dt.timedelta(seconds=1))
    claims = await claim(jc, [uuid.UUID(notification_id)], ctx.get("redis"))
    if not claims:
        return "not mine"
    c = claims[0]
    outcome = await attempt(jc, c)
    await record(jc, [(c, outcome)])
    if outcome.kind == "retry":
        raise Retry(defer=dt.timedelta(seconds=outcome.delay))
    return outcome.kind


async def deliver_many(ctx: dict[str, Any], notification_ids: list[str]) -> dict[str, int]:
    """Send a batch (what one scheduler step queued): one claim, sends in parallel, each written back as it ends."""
    jc = job_context(ctx)
    if jc.notifier is None:
        raise Retry(defer=dt.timedelta(seconds=1))
    claims = await claim(jc, [uuid.UUID(i) for i in notification_ids[:MAX_BATCH]], ctx.get("redis"))

    async def one(c: Claim) -> tuple[Claim, Outcome]:
        outcome = await attempt(jc, c)
        # Written the moment it is known, not after the slowest send of the batch: a crash in between
        # leaves the row in doubt, and a platform without an idempotency key (Telegram) would get it twice.
        await record(jc, [(c, outcome)])
        return c, outcome

    # All at once: a send that waited its turn could outlive its lease and be claimed twice.
    outcomes = await asyncio.gather(*(one(c) for c in claims))
    for c, o in outcomes:  # each retry continues as a single delivery, with arq Retry from then on
        if o.kind == "retry":
            await ctx["redis"].enqueue_job("deliver", c.note.id, _job_id=job_id(c.note.id, c.attempts),
                                           _defer_by=dt.timedelta(seconds=o.delay))
    counts: dict[str, int] = defaultdict(int)
    for _, o in outcomes:
        counts[o.kind] += 1
    return dict(counts)
