"""Reminders and digests: find what came due (core.scheduler) and hand it to delivery.

* `tick` (cron, every 10 s and at start-up) looks for *everything* due by now — not only this
  minute — so runs missed while no worker was up are caught up; it starts chains of
  `step_users` jobs and re-enqueues deliveries that were lost or interrupted (the sweep).
* `step_users` claims a batch of due users with `FOR UPDATE SKIP LOCKED` and queues their
  notifications: the reminder is marked fired and its notification inserted (unique `key`) in
  one transaction, so two workers can never queue it twice. Then `jobs.delivery` sends them.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.outage import classify
from core.scheduler import step_batch, step_user
from db.models import Identity, Notification, Reminder, User
from jobs import delivery
from jobs.context import JobContext, job_context

log = logging.getLogger(__name__)

STEP_CHAINS = 4  # step jobs a tick starts; each continues itself while it finds full batches
MAX_SKIP = 1000  # failed users a step chain remembers
SWEEP_GRACE = dt.timedelta(seconds=30)  # a job that should have run by now was lost: sweep its row
SWEEP_WINDOW = dt.timedelta(days=1)  # older queued rows belong to the terminal's backlog, not a push
TERMINAL = delivery.TERMINAL


# ---------------------------------------------------------------- finding work

def _due_users(now: dt.datetime) -> Any:
    due_reminder = select(Reminder.user_id).where(Reminder.status == "pending", Reminder.remind_at <= now)
    return or_(User.next_digest_at <= now, User.id.in_(due_reminder))


def _reachable(user_id: Any) -> Any:
    """The user can be reached on a chat platform (terminal users read theirs in `pixie chat`)."""
    return exists().where(Identity.user_id == user_id, Identity.platform != TERMINAL)


async def count_due_users(session: AsyncSession, now: dt.datetime) -> int:
    """How many users have a reminder or a digest due by `now`."""
    return int(await session.scalar(select(func.count()).select_from(User).where(_due_users(now))) or 0)


async def deliverable(session: AsyncSession, now: dt.datetime, user_ids: list[uuid.UUID] | None = None,
                      limit: int = 5000, dead: set[str] | None = None,
                      jc: JobContext | None = None) -> list[tuple[uuid.UUID, int]]:
    """(id, attempts) of notifications to deliver now: fresh ones, and (the sweep) lost retries and rows in doubt
    (a lease that ran out, or a row of one of the `dead` workers claimed over `jc.holder_grace` ago)."""
    fresh = and_(Notification.status == "queued", Notification.next_attempt_at.is_(None),
                 Notification.created_at >= now - SWEEP_WINDOW)
    if user_ids is None:
        # queued rows whose batch job should have run by now, a retry whose own arq job should
        # have, and a claim whose worker died (in doubt)
        stale = and_(fresh, Notification.created_at <= now - SWEEP_GRACE)
        lost = and_(Notification.status == "queued", Notification.next_attempt_at <= now - SWEEP_GRACE)
        in_doubt = and_(Notification.status == "sending", Notification.lease_until <= now)
        if dead and jc is not None:
            in_doubt = or_(in_doubt, and_(Notification.status == "sending", Notification.lease_holder.in_(dead),
                                          Notification.lease_until <= now + jc.lease - jc.holder_grace))
        query = select(Notification.id, Notification.attempts).where(or_(stale, lost, in_doubt))
    else:
        query = select(Notification.id, Notification.attempts).where(fresh, Notification.user_id.in_(user_ids))
    query = query.where(_reachable(Notification.user_id))
    rows = await session.execute(query.order_by(Notification.due_at).limit(limit))
    return [(r[0], r[1]) for r in rows]


async def _dead_holders(ctx: dict[str, Any], session: AsyncSession, now: dt.datetime) -> set[str]:
    """The workers holding rows still "sending" within their lease whose alive mark is gone."""
    holders = {h for h in await session.scalars(select(Notification.lease_holder).distinct().where(
        Notification.status == "sending", Notification.lease_until > now)) if h}
    return await delivery.dead_holders(ctx.get("redis"), holders)


async def _enqueue_deliveries(ctx: dict[str, Any], rows: list[tuple[uuid.UUID, int]]) -> int:
    redis = ctx["redis"]
    for nid, attempts in rows:
        await redis.enqueue_job("deliver", str(nid), _job_id=delivery.job_id(nid, attempts))
    return len(rows)


# ---------------------------------------------------------------- the jobs

async def tick(ctx: dict[str, Any]) -> dict[str, int]:
    """Everything due by now: fan the scheduler step out as jobs; re-enqueue lost deliveries."""
    jc = job_context(ctx)
    now = jc.now()
    async with jc.sessions() as session:
        due = await count_due_users(session, now)
        lost = await deliverable(session, now, dead=await _dead_holders(ctx, session, now),
                                 jc=jc) if jc.notifier is not None else []
    for _ in range(min(STEP_CHAINS, -(-due // jc.step_batch))):
        await _enqueue_step(ctx)
    await _enqueue_deliveries(ctx, lost)
    return {"users_due": due, "swept": len(lost)}


async def _enqueue_step(ctx: dict[str, Any], skip: list[str] | None = None) -> None:
    await ctx["redis"].enqueue_job("step_users", skip or [], _job_id=f"step:{uuid.uuid4().hex}")


async def step_users(ctx: dict[str, Any], skip: list[str] | None = None) -> int:
    """Claim one batch of due users (SKIP LOCKED: workers get disjoint batches) and queue their notices.

    A full batch then enqueues its successor, so a backlog is worked off by chains of jobs that
    any worker with room picks up. `skip` carries users whose step failed in this chain, so a
    broken row cannot hold the chain (or everyone behind it) in a loop.
    """
    jc = job_context(ctx)
    now = jc.now()
    failed = list(skip or [])
    async with jc.sessions() as session, session.begin():
        query = select(User).where(_due_users(now))
        if failed:
            query = query.where(User.id.not_in([uuid.UUID(u) for u in failed]))
        users = list(await session.scalars(query.order_by(User.next_digest_at).limit(jc.step_batch)
                                           .with_for_update(skip_locked=True, of=User)))
        try:
            async with session.begin_nested():
                await step_batch(session, users, now)
        except Exception as exc:  # one user's bad row must not cost the others theirs: redo them one by one
            if classify(exc) is not None:
                raise  # the database went away: the whole step is retried (jobs.worker), nobody is skipped
            log.exception("batched scheduler step failed; stepping %d users one at a time", len(users))
            for user in users:
                try:
                    async with session.begin_nested():
                        await step_user(session, user, now)
                except Exception as exc:
                    if classify(exc) is not None:
                        raise
                    log.exception("scheduler step failed for user %s", user.id)
                    failed.append(str(user.id))
    if len(users) == jc.step_batch:
        await _enqueue_step(ctx, failed[-MAX_SKIP:])
    if users and jc.notifier is not None:
        async with jc.sessions() as session:
            rows = await deliverable(session, now, [u.id for u in users])
        for i in range(0, len(rows), delivery.MAX_BATCH):
            await ctx["redis"].enqueue_job("deliver_many", [str(nid) for nid, _ in rows[i:i + delivery.MAX_BATCH]],
                                           _job_id=f"deliver-many:{uuid.uuid4().hex}")
    return len(users)

