"""A secret scan after a whole story: the logs, a pg_dump of the database and every Redis key hold no secret.

The story touches every place a secret or a one-time code passes through: Telegram pairing and
invites, a Slack invite and a Discord link code (one of each left unused, so live when the scan
runs), a mailbox connected with its password and a Google account with its refresh token (sealed
by the vault), the calendar push and the scheduler's tick enqueueing their jobs in Redis (arq job
payloads), all with DEBUG logging on and the log redaction the app installs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from arq.connections import RedisSettings, create_pool
from cryptography.fernet import Fernet
from fakes import discord as fd
from fakes import slack as fs
from fakes import telegram as ft
from sqlalchemy.ext.asyncio import AsyncEngine
from test_discord import running as discord_running
from test_slack import running as slack_running
from test_telegram import running as telegram_running

from bots.app import CalendarPush, Runtime
from connectors.google.auth import Grant
from core import accounts
from core.access import parse_owners
from core.redact import install_log_redaction, secret_values
from core.vault import Vault
from jobs.context import KEY, JobContext
from jobs.reminders import tick

CODE = re.compile(r"[A-Z2-9]{4}-?[A-Z2-9]{4}")
MAIL_PASSWORD, REFRESH_TOKEN = "mailbox-Pa55word-story", "1//0story-refresh-token-NeverShown"
TG_ADA, TG_BOB, SLACK_ADA, DC_ADA = 1001, 2002, "U0ADA", 501


def pg_dump(engine: AsyncEngine) -> str:
    """The whole database as `pg_dump` writes it (pgserver ships pg_dump beside its postgres)."""
    try:
        import pgserver

        binary = str(Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump")
    except ImportError:
        binary = shutil.which("pg_dump") or "pg_dump"
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    done = subprocess.run([binary, "--dbname", url, "--no-owner"], capture_output=True, check=True, timeout=120)
    return done.stdout.decode("utf-8", "replace")


async def redis_dump(settings: RedisSettings) -> list[tuple[bytes, bytes]]:
    """Every key of the test's Redis database with its value (strings, hashes, lists, sorted sets)."""
    client = aioredis.Redis(host=settings.host, port=settings.port, db=settings.database)
    out: list[tuple[bytes, bytes]] = []
    try:
        async for key in client.scan_iter():
            kind = (await client.type(key)).decode()
            if kind == "string":
                value = await client.get(key) or b""
            elif kind == "hash":
                value = b" ".join(k + b"=" + v for k, v in (await client.hgetall(key)).items())
            elif kind == "zset":
                value = b" ".join(m for m, _ in await client.zrange(key, 0, -1, withscores=True))
            elif kind == "list":
                value = b" ".join(await client.lrange(key, 0, -1))
            elif kind == "set":
                value = b" ".join(await client.smembers(key))
            else:
                value = kind.encode()
            out.append((key, value))
    finally:
        await client.aclose()
    return out


def leaks(where: str, text: str, secrets: set[str], codes: set[str]) -> list[str]:
    """Each secret or live code found in `text` (codes also without their dash, any case)."""
    found = [f"{where}: secret {s[:6]}…" for s in secrets if s in text]
    flat = re.sub(r"[\s-]", "", text).upper()
    found += [f"{where}: code {c}" for c in codes if c.replace("-", "") in flat]
    return found


async def test_after_a_story_on_every_platform_no_secret_or_live_code_is_in_logs_pg_dump_or_redis(
        rt: Runtime, engine: AsyncEngine, redis: RedisSettings, caplog: pytest.LogCaptureFixture) -> None:
    settings = rt.settings.model_copy(update={
        "telegram_bot_token": ft.TOKEN, "slack_bot_token": fs.BOT_TOKEN, "slack_app_token": fs.APP_TOKEN,
        "slack_signing_secret": fs.SIGNING_SECRET, "discord_bot_token": fd.TOKEN,
        "anthropic_api_key": "sk-ant-story-key-NeverShown", "google_client_secret": "GOCSPX-story-NeverShown",
        "secret_key": Fernet.generate_key().decode(),
        "redis_url": f"redis://{redis.host}:{redis.port}/{redis.database}"})
    secrets = set(secret_values(settings)) | {MAIL_PASSWORD, REFRESH_TOKEN}
    install_log_redaction(*secret_values(settings))  # as open_runtime does
    caplog.set_level(logging.DEBUG)
    rt.assistant.access.owners = parse_owners(f"telegram:{TG_ADA},slack:{fs.TEAM}/{SLACK_ADA},discord:{DC_ADA}")
    codes: set[str] = set()

    telegram = await ft.FakeTelegram().start()
    try:
        async with telegram_running(rt, telegram):
            async def ada(text: str) -> str:
                before = len(telegram.to(TG_ADA))
                telegram.user_sends(TG_ADA, text)
                await telegram.wait_for(lambda: len(telegram.to(TG_ADA)) > before)
                return telegram.to(TG_ADA)[-1].text

            used = CODE.findall(await ada("/invite"))[0]
            telegram.user_sends(TG_BOB, used)
            await telegram.wait_for(lambda: telegram.to(TG_BOB))
            codes.add(CODE.findall(await ada("/invite"))[0])  # live
            await ada("remind me to call the bank tomorrow at 9am")
    finally:
        await telegram.stop()

    slack = await fs.FakeSlack().start()
    try:
        async with slack_running(rt, slack):
            await slack.envelope("events_api", slack.dm(SLACK_ADA, "/invite"))
            await slack.wait_for(lambda: slack.to(f"D{SLACK_ADA}"))
        codes.add(CODE.findall(slack.to(f"D{SLACK_ADA}")[-1].text)[0])
    finally:
        await slack.stop()

    discord = await fd.FakeDiscord().start()
    try:
        async with discord_running(rt, discord):
            await discord.dispatch("MESSAGE_CREATE", discord.dm(DC_ADA, "/link"))
            await discord.wait_for(lambda: discord.to(7000 + DC_ADA))
        codes.add(CODE.findall(discord.to(7000 + DC_ADA)[-1].content)[0])
    finally:
        await discord.stop()
    assert len(codes) == 3

    vault = Vault.from_settings(settings)
    now = dt.datetime.now(dt.UTC)
    async with rt.sessions() as session, session.begin():
        await accounts.connect(session, vault, user_id=None, provider="imap", kind="mail",
                               remote_id="pixie@mail.test", secret=MAIL_PASSWORD, now=now)
        google = await accounts.connect(session, vault, user_id=None, provider="google", kind="calendar",
                                        remote_id="ada@gmail.test", secret=Grant(REFRESH_TOKEN).to_secret(), now=now)
    push = CalendarPush(settings)
    await push(str(google.id))  # what a turn that changed a synced event enqueues
    await push.aclose()
    pool = await create_pool(redis)
    try:  # the scheduler's tick, as the worker's cron runs it: due users fanned out as jobs
        queued = await tick({"redis": pool, KEY: JobContext(rt.sessions, rt.memory, now=lambda: now +
                                                            dt.timedelta(days=2))})
    finally:
        await pool.aclose()
    assert queued["users_due"] >= 1

    dumped = await asyncio.to_thread(pg_dump, engine)
    stored = await redis_dump(redis)
    assert "COPY public.inbound" in dumped and "COPY public.accounts" in dumped
    assert any(b"arq:job:" in key for key, _ in stored)  # job payloads are there to be scanned
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "sendMessage" in logged or "getUpdates" in logged  # the HTTP clients logged their calls

    found = leaks("pg_dump", dumped, secrets, codes) + leaks("logs", logged, secrets, codes)
    for key, value in stored:
        found += leaks(f"redis {key.decode(errors='replace')}", (key + b" " + value).decode("latin-1"), secrets,
                       codes)
    assert not found, found

