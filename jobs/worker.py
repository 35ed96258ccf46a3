"""The arq worker: Pixie's jobs and their schedule, and `work` for `pixie worker` / `pixie run`.

Every job is a plain `async def job(ctx, …)` in `jobs/<domain>.py`; its typed `JobContext` is
built once at start-up by the app's wiring (`bots.app.run_worker`: the database, memory and the
chat platforms' notifier) and handed in, so jobs never reach up for them. Many workers can share
one Redis: each job is idempotent and claims its rows in Postgres, so it does not matter which
worker runs it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from arq import Retry, Worker
from arq.connections import RedisSettings
from arq.cron import CronJob, cron
from arq.typing import WorkerCoroutine
from arq.worker import Function, func

from core.outage import classify
from jobs import connectors, delivery, memory, reminders
from jobs.context import KEY, JobContext

log = logging.getLogger(__name__)

QUEUE = "arq:queue"
TICK_SECONDS = set(range(0, 60, 10))  # look for due reminders every 10 s: on time within 60 s, with margin
HEALTH_EVERY = 30  # seconds between the worker's health-line refreshes (`pixie worker --check` reads it)
DELIVER_TIMEOUT = 60  # > 2 × JobContext.send_timeout (a delivery check, then the send)
MAX_JOBS = 10  # jobs one worker runs at once
ALIVE = "pixie_alive"  # arq ctx: the task keeping this worker's alive mark in Redis


def _outage_aware(job: Callable[..., Awaitable[Any]], *, scheduled: bool) -> WorkerCoroutine:
    """A job that says "Postgres or Redis is away" in one line instead of failing with a traceback.

    A queued job is retried a little later (arq Retry); a scheduled one simply runs again at its
    next tick, which looks for everything due since the last, so nothing waits longer than the outage.
    """

    @functools.wraps(job)
    async def run(ctx: dict[str, Any], *args: Any, **kw: Any) -> Any:
        try:
            return await job(ctx, *args, **kw)
        except Exception as exc:
            away = classify(exc)
            if away is None:
                raise
            log.warning("%s: Postgres or Redis is unavailable (%s); %s", job.__qualname__, away,
                        "it runs again at its next tick" if scheduled else "retrying shortly")
            if scheduled:
                return None
            raise Retry(defer=2) from None

    return run  # type: ignore[return-value]  # arq's WorkerCoroutine is a Protocol of (ctx, *args)


def functions() -> list[Function]:
    """Every job a worker can run (cron hooks excluded)."""
    found = [
        func(_outage_aware(reminders.step_users, scheduled=False), timeout=120, keep_result=0, max_tries=3),
        # keep_result=0: a finished delivery frees its job id at once, so a later sweep can re-enqueue
        func(_outage_aware(delivery.deliver, scheduled=False), timeout=DELIVER_TIMEOUT, keep_result=0, max_tries=50),
        func(_outage_aware(delivery.deliver_many, scheduled=False), timeout=DELIVER_TIMEOUT, keep_result=0,
             max_tries=50),
        func(_outage_aware(connectors.sync_account, scheduled=False), timeout=300, keep_result=0,
             max_tries=connectors.MAX_TRIES),
    ]
    found.append(func(_outage_aware(memory.embed_pending, scheduled=False), timeout=120, keep_result=0,
                      max_tries=3))  # also on demand
    return found


def cron_jobs() -> list[CronJob]:
    """The schedule. Each runs at start-up too, so a worker that was down catches up at once."""
    found = [
        cron(_outage_aware(reminders.tick, scheduled=True), second=TICK_SECONDS, run_at_startup=True, timeout=60),
        cron(_outage_aware(connectors.sync_calendars, scheduled=True), minute=set(range(0, 60, 5)), second=5,
             run_at_startup=True, timeout=60),
        cron(_outage_aware(connectors.poll_mailboxes, scheduled=True), minute=None, second=35, run_at_startup=True,
             timeout=60),
    ]
    # vectors for new memories, off the hot path
    found.append(cron(_outage_aware(memory.embed_pending, scheduled=True), second=50, run_at_startup=True,
                      timeout=120))
    return found


def make_worker(jc: JobContext, redis: RedisSettings, *, burst: bool = False, queue_name: str = QUEUE,
                handle_signals: bool = True, poll_delay: float = 0.5, **kw: Any) -> Worker:
    """An arq Worker for Pixie's jobs over the context the app built (bots.app wires it).

    While it runs it keeps its alive mark in Redis (delivery.keep_alive), so rows it claimed are
    retaken within seconds should it die.
    """
    then_start, then_stop = kw.pop("on_startup", None), kw.pop("on_shutdown", None)

    async def startup(ctx: dict[str, Any]) -> None:
        ctx[ALIVE] = asyncio.create_task(delivery.keep_alive(ctx["redis"], jc.holder))
        if then_start is not None:
            await then_start(ctx)

    async def shutdown(ctx: dict[str, Any]) -> None:
        alive = ctx.pop(ALIVE, None)
        if alive is not None:
            alive.cancel()
            await asyncio.gather(alive, return_exceptions=True)
        if then_stop is not None:
            await then_stop(ctx)

    return Worker(functions=functions(), cron_jobs=cron_jobs(), redis_settings=redis, burst=burst,
                  queue_name=queue_name, handle_signals=handle_signals, poll_delay=poll_delay, keep_result=0,
                  health_check_interval=kw.pop("health_check_interval", HEALTH_EVERY),
                  max_jobs=kw.pop("max_jobs", MAX_JOBS), ctx={KEY: jc}, on_startup=startup, on_shutdown=shutdown,
                  **kw)


async def close_worker(worker: Worker) -> None:
    """Stop a worker's jobs and close its Redis pool, also from a cancelled task.

    A delivery cut short stays "sending" until its lease ends, then is re-sent under the same key.
    """
    jobs = list(worker.tasks.values())
    for job in jobs:
        job.cancel()
    await asyncio.gather(*jobs, return_exceptions=True)
    worker.tasks.clear()
    if getattr(worker, "_pool", None) is None:  # it never reached Redis: nothing to close, nothing to report
        return
    with warnings.catch_warnings():  # arq 0.28 calls redis-py's deprecated `close`: arq's to fix
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r"Call to deprecated close")
        await worker.close()


async def work(jc: JobContext, redis: RedisSettings, burst: bool = False, *, handle_signals: bool = True,
               **kw: Any) -> int:
    """Run a worker over `jc` until stopped (or, with `burst`, until the queue is empty); returns jobs completed."""
    worker = make_worker(jc, redis, burst=burst, handle_signals=handle_signals, **kw)
    try:
        await worker.async_run()
    finally:
        await close_worker(worker)
    return worker.jobs_complete
