"""`pixie run`: every configured chat bot, concurrently, plus the background worker."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from bots import platforms
from bots.app import Runtime
from bots.platforms import Bot
from core import clock
from core.access import parse_owners
from core.config import Settings
from core.inbox import Inbox
from core.notify import Router
from core.outage import Backoff, classify

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """The bots the settings configure, and the notifier that reaches their users."""

    bots: dict[str, Bot] = field(default_factory=dict)
    router: Router | None = None
    problems: list[str] = field(default_factory=list)


def build(rt: Runtime, settings: Settings) -> Plan:
    """An adapter for each registered platform the settings switch on (imports only the SDKs in use)."""
    inbox = Inbox(rt.sessions, rt.assistant)
    router = Router(rt.sessions)
    plan = Plan(router=router)
    for platform in platforms.configured(settings):
        adapter = platform.adapter()
        problems = adapter.problems(settings)
        if problems:
            plan.problems += problems
            continue
        bot = plan.bots[platform.name] = adapter.build_bot(inbox, settings)
        router.register(platform.name, bot)
    return plan


def either(names: list[str]) -> str:
    """Names joined as "A, B or C"."""
    return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


async def pairing_code(rt: Runtime) -> str | None:
    """A code for the first owner to send, while nobody owns this Pixie (waits for a database that is away)."""
    backoff = Backoff(first=0.5, longest=5.0)
    while True:
        try:
            async with rt.sessions() as session, session.begin():
                return await rt.assistant.access.pairing_code(session, dt.datetime.now(clock.UTC))
        except Exception as exc:
            if classify(exc) is None:
                raise
            await backoff.wait()


async def run_all(rt: Runtime, settings: Settings, say: Callable[[str], None] = print,
                  with_worker: bool = True) -> None:
    """Start every configured bot (and the worker) and run until cancelled or one of them fails."""
    if settings.owners:
        rt.assistant.access.owners = parse_owners(settings.owners)
    plan = build(rt, settings)
    for problem in plan.problems:
        say(f"! {problem}")
    if not plan.bots:
        settings_names = [p.setting for p in platforms.REGISTRY]
        say(f"No chat platform is configured: set {either(settings_names)} "
            "(see README, “Connect a chat platform”). `pixie chat` works without any.")
        return
    code = None if settings.owners else await pairing_code(rt)  # PIXIE_OWNERS names the owners already
    if code:
        say(f"Pairing code: {code} — send it to the bot (on Telegram: /start {code}) to become its owner. "
            "It works once, for 24 hours; restart `pixie run` for a new one.")
    jobs: dict[str, Coroutine[Any, Any, Any]] = {name: bot.run() for name, bot in plan.bots.items()}
    if with_worker:  # reminders and digests go out through the running bots
        from bots.app import keep_working

        # The worker restarts after Redis or Postgres went away; the bots never stop because of it.
        jobs["worker"] = keep_working(settings, notifier=plan.router, handle_signals=False)
    say("Running: " + ", ".join(jobs))
    tasks = {asyncio.create_task(job, name=name): name for name, job in jobs.items()}
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
