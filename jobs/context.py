"""The typed context every job runs with, built once when a worker starts."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from core import clock
from core.memory import Memory
from core.types import Notifier, OutgoingNotification
from core.vault import Vault

KEY = "pixie"  # where the JobContext sits in arq's ctx dict


def utcnow() -> dt.datetime:
    """The real clock, aware UTC."""
    return dt.datetime.now(clock.UTC)


@dataclass
class JobContext:
    """What jobs share: the database, memory, where notifications go, and the clock."""

    sessions: async_sessionmaker
    memory: Memory
    # None: no chat platform is configured; notifications stay queued for `pixie chat` to show.
    notifier: Notifier | None = None
    now: Callable[[], dt.datetime] = utcnow
    # How long a worker may hold a notification it is sending; must exceed 2 × send_timeout (a
    # digest polish or a delivery check, then the send), so a live worker never loses its claim,
    # and a dead one's claim is retaken soon after.
    lease: dt.timedelta = dt.timedelta(seconds=60)
    # Who this worker is to the rows it claims; it keeps `pixie:holder:<holder>` alive in Redis while it
    # runs (jobs/delivery.py), so a worker that died is seen as dead within seconds.
    holder: str = field(default_factory=lambda: uuid.uuid4().hex)
    # A claim younger than this is never judged abandoned, even with its holder's mark gone: a Redis
    # that lost its keys (restarted empty) gets the marks of live workers back well before then.
    holder_grace: dt.timedelta = dt.timedelta(seconds=15)
    send_timeout: float = 20.0
    step_batch: int = 25  # users per scheduler-step batch (locked while their notices are queued)
    backoff_base: float = 5.0  # seconds before the first retry; doubles per attempt
    backoff_max: float = 900.0
    max_attempts: int = 8  # then the notification is recorded as failed
    # Optional one-call polish of the digest text by a model (None: the plain composed text).
    polish: Callable[[OutgoingNotification], Awaitable[str]] | None = None
    extra: dict[str, Any] | None = None  # what other job families keep (connectors, indexing)
    # Opens connected accounts' secrets (core.accounts); None only where no connector runs (tests).
    vault: Vault | None = None


def job_context(ctx: dict[str, Any]) -> JobContext:
    """The JobContext inside arq's ctx dict."""
    jc = ctx.get(KEY)
    if not isinstance(jc, JobContext):
        raise RuntimeError("the worker was started without a Pixie JobContext (see jobs.worker.make_worker)")
    return jc
