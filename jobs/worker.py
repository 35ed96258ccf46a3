"""The arq worker: Pixie's jobs and their schedule, and `run_worker` for `pixie worker` / `pixie run`.

Every job is a plain `async def job(ctx, …)` in `jobs/<domain>.py`; its typed `JobContext` is
built once at start-up and sits in arq's ctx. Many workers can share one Redis: each job is
idempotent and claims its rows in Postgres, so it does not matter which worker runs it.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from arq import Worker
from arq.connections import RedisSettings
from arq.cron import CronJob, cron
from arq.worker import Function, func

from core.config import Settings, get_settings
from core.types import Notifier
from core.vault import Vault
from jobs import connectors, delivery, memory, reminders
from jobs.context import KEY, JobContext

if TYPE_CHECKING:
    from bots.notifier import WorkerRouter

log = logging.getLogger(__name__)

QUEUE = "arq:queue"
TICK_SECONDS = set(range(0, 60, 10))  # look for due reminders every 10 s: on time within 60 s, with margin
HEALTH_EVERY = 30  # seconds between the worker's health-line refreshes (`pixie worker --check` reads it)
DELIVER_TIMEOUT = 60  # > 2 × JobContext.send_timeout (a delivery check, then the send)


def functions() -> list[Function]:
    """Every job a worker can run (cron hooks excluded)."""
    found = [
        func(reminders.step_users, timeout=120, keep_result=0, max_tries=3),
        # keep_result=0: a finished delivery frees its job id at once, so a later sweep can re-enqueue
        func(delivery.deliver, timeout=DELIVER_TIMEOUT, keep_result=0, max_tries=50),
        func(delivery.deliver_many, timeout=DELIVER_TIMEOUT, keep_result=0, max_tries=50),
        func(connectors.sync_account, timeout=300, keep_result=0, max_tries=connectors.MAX_TRIES),
    ]
    found.append(func(memory.embed_pending, timeout=120, keep_result=0, max_tries=3))  # also on demand
    return found


def cron_jobs() -> list[CronJob]:
    """The schedule. Each runs at start-up too, so a worker that was down catches up at once."""
    found = [
        cron(reminders.tick, second=TICK_SECONDS, run_at_startup=True, timeout=60),
        cron(connectors.sync_calendars, minute=set(range(0, 60, 5)), second=5, run_at_startup=True, timeout=60),
        cron(connectors.poll_mailboxes, minute=None, second=35, run_at_startup=True, timeout=60),
    ]
    # vectors for new memories, off the hot path
    found.append(cron(memory.embed_pending, second=50, run_at_startup=True, timeout=120))
    return found


def default_notifier(settings: Settings, sessions: Any) -> WorkerRouter | None:
    """Send-only clients for every configured chat platform (None when there is none)."""
    from bots.notifier import build_notifier  # the SDKs load only when a platform is configured

    return build_notifier(settings, sessions)


async def startup(ctx: dict[str, Any]) -> None:
    """arq on_startup: open the runtime and build the JobContext, unless one was handed in."""
    if KEY in ctx:
        return
    from core.runtime import open_runtime

    stack = AsyncExitStack()
    settings = get_settings()
    rt = await stack.enter_async_context(open_runtime(settings))
    notifier = default_notifier(settings, rt.sessions)
    if notifier is not None:
        stack.push_async_callback(notifier.aclose)
    ctx[KEY] = JobContext(rt.sessions, rt.memory, notifier, vault=Vault.from_settings(settings))
    ctx["pixie_stack"] = stack


async def shutdown(ctx: dict[str, Any]) -> None:
    """arq on_shutdown: close what startup opened."""
    stack = ctx.pop("pixie_stack", None)
    if stack is not None:
        await stack.aclose()


class WorkerSettings:
    """For `arq jobs.worker.WorkerSettings` (set its redis_settings); `pixie worker` builds the same."""

    functions = functions()
    cron_jobs = cron_jobs()
    on_startup = startup
    on_shutdown = shutdown
    keep_result = 0
    max_jobs = 10


def make_worker(jc: JobContext | None, redis: RedisSettings, *, burst: bool = False, queue_name: str = QUEUE,
                handle_signals: bool = True, poll_delay: float = 0.5, **kw: Any) -> Worker:
    """An arq Worker for Pixie's jobs; `jc` None builds the context from the settings at start-up."""
    return Worker(functions=WorkerSettings.functions, cron_jobs=cron_jobs(), redis_settings=redis,
                  on_startup=startup, on_shutdown=shutdown, burst=burst, queue_name=queue_name,
                  handle_signals=handle_signals, poll_delay=poll_delay, keep_result=0,
                  health_check_interval=kw.pop("health_check_interval", HEALTH_EVERY),
                  max_jobs=kw.pop("max_jobs", WorkerSettings.max_jobs),
                  ctx={KEY: jc} if jc is not None else None, **kw)


async def close_worker(worker: Worker) -> None:
    """Stop a worker's jobs and close its Redis pool, also from a cancelled task.

    A delivery cut short stays "sending" until its lease ends, then is re-sent under the same key.
    """
    jobs = list(worker.tasks.values())
    for job in jobs:
        job.cancel()
    await asyncio.gather(*jobs, return_exceptions=True)
    worker.tasks.clear()
    with warnings.catch_warnings():  # arq 0.28 calls redis-py's deprecated `close`: arq's to fix
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r"Call to deprecated close")
        await worker.close()


async def run_worker(settings: Settings | None = None, burst: bool = False, *, notifier: Notifier | None = None,
                     handle_signals: bool = True, **kw: Any) -> int:
    """Run the worker until stopped (or, with `burst`, until the queue is empty); returns jobs completed.

    `pixie run` calls this beside the bots with their notifier and `handle_signals=False`, and
    cancels it on shutdown. Without PIXIE_REDIS_URL an embedded Redis starts in the data dir.
    """
    from core.runtime import open_runtime
    from jobs.queue import embedded_lifetime

    settings = settings or get_settings()
    async with open_runtime(settings) as rt:
        with embedded_lifetime(settings) as redis:
            owned = default_notifier(settings, rt.sessions) if notifier is None else None
            chosen = notifier if notifier is not None else owned
            if chosen is None:
                log.info("no chat platform to deliver to: notifications stay queued for `pixie chat`")
            jc = JobContext(rt.sessions, rt.memory, chosen, vault=Vault.from_settings(settings))
            worker = make_worker(jc, redis, burst=burst, handle_signals=handle_signals, **kw)
            try:
                await worker.async_run()
            finally:
                await close_worker(worker)
                if owned is not None:
                    await owned.aclose()
            return worker.jobs_complete
