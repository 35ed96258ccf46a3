"""Secrets never leave their place: no token or key in any log record, no one-time code in any stored row."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator

import httpx
import pytest
from fakes.telegram import TOKEN, FakeTelegram
from sqlalchemy import text
from test_telegram import running as telegram_running

from bots.app import Runtime, open_runtime
from core.config import Settings
from core.redact import Redactor, install_log_redaction, secret_values
from tests.chat_support import admit

ADA, BOB, CAROL, GROUP = 1001, 2002, 3003, -100777
CODE = re.compile(r"[A-Z2-9]{4}-[A-Z2-9]{4}")
SLACK_KEY, OPENAI_KEY = "xoxb-2222-3333-NeverConfigured", "sk-proj-NeverConfigured0123456789"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record of the HTTP clients and the Telegram SDK, down to DEBUG."""
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "telegram", "bots", "core", "pixie.test"):
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


def shown(record: logging.LogRecord) -> str:
    """Everything a handler could print of a record: its message, arguments, traceback and stack."""
    return "\n".join([record.getMessage(), repr(record.msg), repr(record.args), str(record.exc_text),
                      str(record.stack_info), repr(record.exc_info)])


async def test_the_telegram_token_is_in_no_log_record_even_at_debug(
        rt: Runtime, telegram: FakeTelegram, settings: Settings, debug_logs: pytest.LogCaptureFixture) -> None:
    configured = settings.model_copy(update={"telegram_bot_token": TOKEN, "telegram_base_url": telegram.base_url})
    async with open_runtime(configured) as app:  # the app's wiring installs the masking
        admit(app, "telegram", ADA)
        async with telegram_running(app, telegram):
            telegram.user_sends(ADA, "add renew the passport tomorrow")
            await telegram.wait_for(lambda: telegram.to(ADA))
        async with httpx.AsyncClient() as http:  # an error whose message quotes a URL with the token
            try:
                (await http.get(f"{telegram.base_url}{TOKEN}/no/such/path")).raise_for_status()
            except httpx.HTTPStatusError as exc:
                logging.getLogger("pixie.test").exception("the Bot API call failed: %s", exc)
    records = debug_logs.records
    assert any("getUpdates" in r.getMessage() for r in records if r.name == "httpx")  # httpx logged its URLs
    assert any("sendMessage" in r.getMessage() and "Calling" in r.getMessage() for r in records)  # PTB at DEBUG
    assert any("HTTPStatusError" in str(r.exc_text) for r in records)
    assert not [shown(r) for r in records if TOKEN in shown(r)]
    assert TOKEN not in debug_logs.text


async def test_keys_of_known_shapes_in_an_exception_are_masked_though_never_configured(
        debug_logs: pytest.LogCaptureFixture) -> None:
    install_log_redaction()  # as the app's wiring does (the keys below are in no setting)
    log = logging.getLogger("pixie.test")
    try:
        raise RuntimeError(f"auth failed with {SLACK_KEY} and then with {OPENAI_KEY}")
    except RuntimeError as exc:
        log.exception("provider call failed")
        log.error("provider said: %s (key %r)", exc, OPENAI_KEY)
    log.warning("connecting to %s", "postgresql+asyncpg://pixie:hunter2hunter2@db:5432/pixie")
    log.info("headers: %s", {"Authorization": "Bearer abcdefghijklmnop1234567890"})
    assert len(debug_logs.records) == 4
    for secret in (SLACK_KEY, OPENAI_KEY, "hunter2hunter2", "abcdefghijklmnop1234567890"):
        assert not [shown(r) for r in debug_logs.records if secret in shown(r)], secret
        assert secret not in debug_logs.text
    assert "RuntimeError: auth failed with <redacted>" in debug_logs.text  # the traceback is kept, masked


def test_known_shapes_and_configured_values_are_masked_and_ordinary_text_is_not() -> None:
    mask = Redactor(["my-own-webhook-secret"])
    assert mask("GET https://api.telegram.org/bot7012345678:AAHk3lZ-abcdefghijklmnopqrstuvwxyz1/getMe") == \
        "GET https://api.telegram.org/bot<redacted>/getMe"
    assert mask("x-telegram-bot-api-secret-token my-own-webhook-secret") == "x-telegram-bot-api-secret-token <redacted>"
    assert mask("imaps://alice:s3cr%40t@mail.example:993/INBOX") == "imaps://alice:<redacted>@mail.example:993/INBOX"
    assert mask("xapp-1-A0APP-1234-abcdef") == "<redacted>"
    ordinary = "Added: Fix the auth bug — Avenue, due Fri 16 Jan 12:30 (task-list, risk-free, PROJ-2345)"
    assert mask(ordinary) == ordinary


async def scan(rt: Runtime) -> list[tuple[str, str, str]]:
    """(table, column, value) for every text, varchar and JSON value stored in the schema."""
    found = []
    async with rt.engine.connect() as conn:
        columns = list(await conn.execute(text(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND data_type IN ('text', 'character varying', 'json', 'jsonb') AND table_name <> 'alembic_version'")))
        for table, column in columns:
            rows = await conn.execute(text(f'SELECT "{column}"::text FROM "{table}" WHERE "{column}" IS NOT NULL'))
            found += [(table, column, value) for (value,) in rows]
    return found


async def test_no_one_time_code_or_token_is_stored_anywhere_after_pairing_inviting_and_linking(
        rt: Runtime, telegram: FakeTelegram) -> None:
    async with rt.sessions() as s, s.begin():
        pairing = await rt.assistant.access.pairing_code(s, dt.datetime.now(dt.UTC))
    assert pairing

    async def ada(text: str, where: int = ADA) -> str:
        before = len(telegram.to(ADA))
        telegram.user_sends(ADA, text, chat_type="private" if where == ADA else "supergroup", chat_id=where)
        await telegram.wait_for(lambda: len(telegram.to(ADA)) > before)
        return telegram.to(ADA)[-1].text

    async with telegram_running(rt, telegram):
        assert (await ada(f"/start {pairing}")).startswith("Paired")
        invite = CODE.findall(await ada("/invite"))[0]
        telegram.user_sends(BOB, invite.lower().replace("-", " "))  # typed as a person would
        await telegram.wait_for(lambda: telegram.to(BOB))
        assert telegram.to(BOB)[0].text.startswith("Welcome")
        link = CODE.findall(await ada("/link"))[0]
        telegram.user_sends(CAROL, f"/link {link}")
        await telegram.wait_for(lambda: telegram.to(CAROL))
        assert telegram.to(CAROL)[0].text.startswith("Linked")
        live_invite = CODE.findall(await ada("/invite"))[0]  # never used: live when the scan runs
        live_link = CODE.findall(await ada("/link"))[0]
        in_group = CODE.findall(await ada("/invite@PixieTestBot", GROUP))[0]  # asked in a group: shown in the DM
        await ada(f"I'll give Dan the code {live_invite} tomorrow")
        await ada(live_link)
    codes = {pairing, invite, link, live_invite, live_link, in_group}
    assert len(codes) == 6
    assert not [s.text for s in telegram.to(GROUP) if CODE.search(s.text)]  # no code was posted in the group
    values = await scan(rt)
    assert {t for t, _, _ in values} >= {"messages", "inbound", "memory_items", "users"}
    flat = [(t, c, re.sub(r"[\s-]", "", v).upper()) for t, c, v in values]
    for code in codes:
        assert not [(t, c) for t, c, v in flat if code.replace("-", "") in v], code
    assert not [(t, c) for t, c, v in values if TOKEN in v]


def test_every_token_key_secret_and_url_password_setting_is_a_secret_to_mask() -> None:
    given = {"TELEGRAM_BOT_TOKEN": "111111:tg-token-value", "SLACK_BOT_TOKEN": "xoxb-slack-bot",
             "SLACK_APP_TOKEN": "xapp-slack-app", "SLACK_SIGNING_SECRET": "slack-signing",
             "DISCORD_BOT_TOKEN": "discord-token",
             "ANTHROPIC_API_KEY": "anthropic-key", "OPENAI_API_KEY": "openai-key",
             "PIXIE_SECRET_KEY": "new-fernet-key,old-fernet-key", "TELEGRAM_WEBHOOK_SECRET": "hook-secret",
             "PIXIE_DATABASE_URL": "postgresql+asyncpg://pixie:db-password@db/pixie",
             "PIXIE_REDIS_URL": "redis://:redis-password@redis:6379/0"}
    found = set(secret_values(Settings(PIXIE_DATA_DIR="/tmp/unused", **given)))  # type: ignore[arg-type]
    assert found >= {v for k, v in given.items() if not k.endswith("_URL")} | {"db-password", "redis-password"}
    assert {"new-fernet-key", "old-fernet-key"} <= found  # rotated keys, each on its own
    assert not found & {"offline", "hash", "07:30"}  # ordinary settings are not secrets
