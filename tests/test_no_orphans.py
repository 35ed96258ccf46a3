"""Ending Pixie any way stops the embedded Postgres and Redis it started, unless another Pixie still uses them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
Proc = asyncio.subprocess.Process


def pixie_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PIXIE_DATABASE_URL", "PIXIE_REDIS_URL")}
    return {**env, "PIXIE_DATA_DIR": str(data_dir), "PIXIE_LLM": "offline", "PIXIE_EMBEDDINGS": "hash",
            "NO_PROXY": "127.0.0.1,localhost"}


def stderr_log(data_dir: Path) -> IO[bytes]:
    return (data_dir / "stderr.log").open("ab")


async def start(data_dir: Path, *args: str) -> Proc:
    """`pixie ARGS` as a user runs it, on the embedded servers in `data_dir`."""
    with stderr_log(data_dir) as log:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bots.cli", *args, cwd=ROOT, env=pixie_env(data_dir),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log)


async def say(chat: Proc, text: str) -> dict[str, Any]:
    """One line through `pixie chat --jsonl`, its answer."""
    assert chat.stdin is not None and chat.stdout is not None
    chat.stdin.write(json.dumps({"text": text}).encode() + b"\n")
    await chat.stdin.drain()
    line = await asyncio.wait_for(chat.stdout.readline(), 60)
    assert line, "pixie chat ended instead of answering"
    return json.loads(line)


def running(pid_file: Path) -> psutil.Process:
    """The server whose pid `pid_file` holds; it must be running."""
    proc = psutil.Process(int(pid_file.read_text().split()[0]))
    assert alive(proc)
    return proc


def alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def gone(proc: psutil.Process, within: float = 5.0) -> bool:
    """Whether `proc` ends within `within` seconds."""
    for _ in range(int(within / 0.05)):
        if not alive(proc):
            return True
        await asyncio.sleep(0.05)
    return not alive(proc)


async def end(proc: Proc, how: str) -> None:
    """End a Pixie process the way a user, a service manager or the OOM killer would; it must exit promptly."""
    if how == "EOF":
        assert proc.stdin is not None
        proc.stdin.close()
    else:
        proc.send_signal(getattr(signal, how))
    await asyncio.wait_for(proc.wait(), 15)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data dir for the module: its Postgres is created once, then only started and stopped."""
    return tmp_path_factory.mktemp("orphans")


@pytest.fixture
async def cleanup() -> AsyncIterator[list[Proc]]:
    """Processes a test starts; any still running at its end are killed."""
    procs: list[Proc] = []
    yield procs
    for p in procs:
        if p.returncode is None:
            p.kill()
            await p.wait()


@pytest.mark.parametrize("how", ["EOF", "SIGINT", "SIGTERM", "SIGHUP", "SIGKILL"])
async def test_ending_a_chat_any_way_stops_the_postgres_it_started(
        data_dir: Path, cleanup: list[Proc], how: str) -> None:
    chat = await start(data_dir, "chat", "--jsonl")
    cleanup.append(chat)
    assert "stamps" in (await say(chat, "add buy stamps tomorrow"))["reply"].lower()
    postgres = running(data_dir / "pg" / "postmaster.pid")
    await end(chat, how)
    assert await gone(postgres), f"the embedded Postgres outlived a chat ended by {how}"


@pytest.mark.parametrize("how", ["EOF", "SIGKILL"])
async def test_ending_one_of_two_chats_leaves_the_other_its_database(
        data_dir: Path, cleanup: list[Proc], how: str) -> None:
    first, second = await start(data_dir, "chat", "--jsonl"), await start(data_dir, "chat", "--jsonl")
    cleanup += [first, second]
    await say(first, "add water the plants tomorrow")
    await say(second, "add feed the cat tomorrow")
    postgres = running(data_dir / "pg" / "postmaster.pid")
    watchdogs = psutil.Process(first.pid).children()
    await end(first, how)
    psutil.wait_procs(watchdogs, timeout=10)  # the first chat's watchdog has done what it does
    assert alive(postgres)
    reply = await say(second, "add call the plumber on friday")
    assert "plumber" in reply["reply"].lower() and reply["actions"][0]["ok"]
    await end(second, "EOF")
    assert await gone(postgres), "the last chat ended but its Postgres kept running"


async def test_a_killed_worker_stops_its_embedded_postgres_and_redis(tmp_path: Path, cleanup: list[Proc]) -> None:
    worker = await start(tmp_path, "worker")
    cleanup.append(worker)
    registry = tmp_path / "redis" / "pixie.rdb.settings"
    for _ in range(600):  # the worker is up once its Redis is
        if registry.exists() and (tmp_path / "pg" / "postmaster.pid").exists():
            break
        assert worker.returncode is None, (tmp_path / "stderr.log").read_text()
        await asyncio.sleep(0.05)
    redis = running(Path(json.loads(registry.read_text())["pidfile"]))
    postgres = running(tmp_path / "pg" / "postmaster.pid")
    await end(worker, "SIGKILL")
    assert await gone(postgres) and await gone(redis), "a killed worker left its servers running"
