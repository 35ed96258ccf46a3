"""`pixie run`: every configured chat bot, concurrently, plus the background worker."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from core import clock
from core.access import parse_owners
from core.config import Settings
from core.inbox import Inbox
from core.notify import Router
from core.runtime import Runtime

log = logging.getLogger(__name__)


class Bot(Protocol):
    """What `pixie run` needs of an adapter."""

    async def run(self) -> None: ...


@dataclass
class Plan:
    """The bots the settings configure, and the notifier that reaches their users."""

    bots: dict[str, Bot] = field(default_factory=dict)
    router: Router | None = None
    problems: list[str] = field(default_factory=list)


def build(rt: Runtime, settings: Settings) -> Plan:
    """An adapter for each platform that has its tokens set (imports only the SDKs in use)."""
    inbox = Inbox(rt.sessions, rt.assistant)
    plan = Plan(router=Router(rt.sessions))
    if settings.telegram_bot_token:
        from bots.telegram import TelegramBot

        plan.bots["telegram"] = TelegramBot(
            inbox, settings.telegram_bot_token, settings.telegram_base_url,
            webhook_url=settings.telegram_webhook_url, webhook_secret=settings.telegram_webhook_secret,
            listen=settings.listen_host, port=settings.telegram_webhook_port)
    if settings.slack_bot_token:
        from bots.slack import SlackBot

        if not settings.slack_app_token and not (settings.slack_signing_secret and settings.slack_http_port):
            plan.problems.append("Slack: set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET and "
                                 "SLACK_HTTP_PORT (HTTP Events)")
        else:
            plan.bots["slack"] = SlackBot(
                inbox, settings.slack_bot_token, app_token=settings.slack_app_token,
                signing_secret=settings.slack_signing_secret, http_port=settings.slack_http_port,
                listen=settings.listen_host, base_url=settings.slack_api_url)
    if settings.discord_bot_token:
        from bots.discord import DiscordBot

        plan.bots["discord"] = DiscordBot(inbox, settings.discord_bot_token, guild_id=settings.discord_guild_id)
    assert plan.router is not None
    for platform, bot in plan.bots.items():
        plan.router.register(platform, bot)  # type: ignore[arg-type]
    return plan


async def pairing_code(rt: Runtime) -> str | None:
    """A code for the first owner to send, while nobody owns this Pixie."""
    async with rt.sessions() as session, session.begin():
        return await rt.assistant.access.pairing_code(session, dt.datetime.now(clock.UTC))


async def run_all(rt: Runtime, settings: Settings, say: Callable[[str], None] = print,
                  with_worker: bool = True) -> None:
    """Start every configured bot (and the worker) and run until cancelled or one of them fails."""
    if settings.owners:
        rt.assistant.access.owners = parse_owners(settings.owners)
    plan = build(rt, settings)
    for problem in plan.problems:
        say(f"! {problem}")
    if not plan.bots:
        say("No chat platform is configured: set TELEGRAM_BOT_TOKEN, SLACK_BOT_TOKEN or DISCORD_BOT_TOKEN "
            "(see README, “Connect a chat platform”). `pixie chat` works without any.")
        return
    code = None if settings.owners else await pairing_code(rt)  # PIXIE_OWNERS names the owners already
    if code:
        say(f"Pairing code: {code} — send it to the bot (on Telegram: /start {code}) to become its owner. "
            "It works once, for 24 hours; restart `pixie run` for a new one.")
    jobs: dict[str, Awaitable[Any]] = {name: bot.run() for name, bot in plan.bots.items()}
    if with_worker:  # reminders and digests go out through the running bots
        from jobs.worker import run_worker

        jobs["worker"] = run_worker(settings, notifier=plan.router, handle_signals=False)
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
