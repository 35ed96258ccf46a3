"""A chat platform is one module and one registry line: `pixie run`, the worker and `pixie doctor` find it there."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from arq.connections import RedisSettings

from bots import platforms
from bots.app import Runtime
from bots.doctor import platform_checks
from bots.notifier import SendOnly, WorkerRouter, build_notifier
from bots.platforms import Adapter
from bots.run import build, run_all
from core.config import Settings
from jobs.context import JobContext
from tests.conftest import at
from tests.fakes import toy_platform
from tests.fakes.chat_platform import FakeChatPlatform
from tests.jobs_support import Clock, burst, call, platform_user

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def bare(settings: Settings) -> Settings:
    """The test settings with no platform of the registry configured."""
    return settings.model_copy(update={"telegram_bot_token": None, "slack_bot_token": None,
                                       "discord_bot_token": None, "owners": "toy:ada-id"})


@pytest.fixture
async def toy(monkeypatch: pytest.MonkeyPatch) -> FakeChatPlatform:
    """The toy platform added as a new one would be: one more registry line, its setting set."""
    async with FakeChatPlatform() as fake:
        monkeypatch.setattr(platforms, "REGISTRY", (*platforms.REGISTRY, toy_platform.TOY))
        monkeypatch.setenv(toy_platform.SETTING, fake.url)
        yield fake


async def _reminder_due(rt: Runtime, clock: Clock) -> None:
    user = await platform_user(rt, "ada", "Europe/Berlin", clock(), platform="toy", digest=False)
    await call(rt, user, "create_task", {"title": "Water the plants", "remind_at": "2026-03-27T18:00:00+01:00"},
               clock())
    clock.set("2026-03-27T18:00:20+01:00")


async def test_pixie_run_builds_and_runs_a_newly_registered_platform_and_reminds_through_it(
        rt: Runtime, bare: Settings, redis: RedisSettings, toy: FakeChatPlatform) -> None:
    clock = Clock(at("2026-03-27T09:00:00+01:00"))
    await _reminder_due(rt, clock)

    plan = build(rt, bare)
    assert list(plan.bots) == ["toy"] and plan.problems == []
    assert plan.router is not None and set(plan.router.senders) == {"toy"}
    bot = plan.bots["toy"]
    assert isinstance(bot, toy_platform.ToyBot)
    try:
        await burst(JobContext(rt.sessions, rt.memory, plan.router, now=clock, backoff_base=0.05), redis)
    finally:
        await bot.http.close()  # the bot never ran, so its run() did not close it
    [note] = toy.messages
    assert (note.user_id, note.text, note.buttons) == ("ada-id", "⏰ Reminder: Water the plants", ["Done", "Snooze 1h"])

    said: list[str] = []
    running = asyncio.Event()

    def say(line: str) -> None:
        said.append(line)
        if line.startswith("Running:"):
            running.set()

    task = asyncio.create_task(run_all(rt, bare, say, with_worker=False))
    try:
        await asyncio.wait_for(running.wait(), 20)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert "Running: toy" in said


async def test_the_worker_alone_reaches_a_newly_registered_platform_send_only(
        rt: Runtime, bare: Settings, redis: RedisSettings, toy: FakeChatPlatform) -> None:
    clock = Clock(at("2026-03-27T09:00:00+01:00"))
    await _reminder_due(rt, clock)

    notifier = build_notifier(bare, rt.sessions)  # what `pixie worker` builds
    assert isinstance(notifier, WorkerRouter) and set(notifier.senders) == {"toy"}
    assert isinstance(notifier.senders["toy"], SendOnly)
    async with notifier:
        jc = JobContext(rt.sessions, rt.memory, notifier, now=clock, backoff_base=0.05)
        await burst(jc, redis)
        await burst(jc, redis)  # a second pass sends nothing more
    assert toy.texts("ada-id") == ["⏰ Reminder: Water the plants"]
    assert len(toy.posts) == 1


async def test_pixie_run_names_every_registered_platform_when_none_is_configured(rt: Runtime, bare: Settings) -> None:
    said: list[str] = []
    await run_all(rt, bare, said.append)
    [line] = said
    assert "set TELEGRAM_BOT_TOKEN, SLACK_BOT_TOKEN or DISCORD_BOT_TOKEN" in line


def test_doctor_lists_every_platform_and_what_a_configured_one_lacks(
        bare: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platforms, "REGISTRY", (*platforms.REGISTRY, toy_platform.TOY))
    monkeypatch.setenv(toy_platform.SETTING, "http://127.0.0.1:9")
    half_slack = bare.model_copy(update={"slack_bot_token": "xoxb-1", "slack_app_token": None,
                                         "slack_signing_secret": None})
    checks = {name: (ok, detail) for name, ok, detail in platform_checks(half_slack)}
    assert checks["Telegram"] == (None, "not configured (set TELEGRAM_BOT_TOKEN)")
    assert checks["Discord"] == (None, "not configured (set DISCORD_BOT_TOKEN)")
    assert checks["Slack"][0] is False and "SLACK_APP_TOKEN" in checks["Slack"][1]
    assert checks["Toy"] == (True, "PIXIE_TOY_URL set")


def test_every_registered_module_declares_its_adapter_under_its_own_name() -> None:
    for platform in platforms.REGISTRY:
        assert isinstance(platform.adapter(), Adapter)
        assert importlib.import_module(platform.module).PLATFORM == platform.name


def test_only_the_configured_platforms_sdk_is_imported() -> None:
    probe = ("import sys\n"
             "from bots.notifier import build_notifier\n"
             "from core.config import Settings\n"
             "s = Settings(TELEGRAM_BOT_TOKEN='1:x', SLACK_BOT_TOKEN=None, DISCORD_BOT_TOKEN=None)\n"
             "assert set(build_notifier(s, None).senders) == {'telegram'}\n"
             "print(sorted({'telegram', 'slack_bolt', 'slack_sdk', 'discord'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "['telegram']", out.stdout + out.stderr


def test_pixie_run_with_no_platform_says_so_in_its_own_words(tmp_path: Path) -> None:
    """A newcomer's first `pixie run` (no token yet): the line that says what to set, not buried under
    the embedded Postgres' start-up log (pgserver prints a page of INFO lines as it starts)."""
    env = {k: v for k, v in os.environ.items() if k not in {p.setting for p in platforms.REGISTRY}
           and k not in ("PIXIE_DATABASE_URL", "PIXIE_REDIS_URL")}
    env |= {"PIXIE_DATA_DIR": str(tmp_path / "data"), "PIXIE_LLM": "offline", "PIXIE_EMBEDDINGS": "hash",
            "COLUMNS": "200"}
    proc = subprocess.run([str(Path(sys.executable).with_name("pixie")), "run"], capture_output=True, text=True,
                          env=env, timeout=120, cwd=tmp_path)
    said = (proc.stdout + proc.stderr).strip().splitlines()
    assert said == ["No chat platform is configured: set TELEGRAM_BOT_TOKEN, SLACK_BOT_TOKEN or DISCORD_BOT_TOKEN "
                    "(see README, “Connect a chat platform”). `pixie chat` works without any."], said
