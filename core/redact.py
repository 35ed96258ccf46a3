"""Secrets never reach a log: every record is masked when it is made, whichever library logs it.

`install_log_redaction` (called once by the app's wiring, bots/app.py) wraps the log-record
factory, so a record from httpx, python-telegram-bot, slack_sdk, discord.py, SQLAlchemy or our own
code has its message (with its arguments merged in), its traceback and its stack masked before any
handler or formatter sees it. It masks the configured secrets by value (every token, key, secret or
password setting, and the password of any URL setting) and known shapes by pattern (a Telegram
token in a Bot API URL, Slack and `sk-` keys, Authorization headers, `password=`, a URL's userinfo,
one-time codes), so a secret that was never configured is caught too.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from pydantic import BaseModel

HIDDEN = "<redacted>"
SECRET_FIELD = re.compile(r"token|secret|key|password", re.IGNORECASE)  # a setting with such a name is a secret
MIN_LEN = 6  # shorter values would mask ordinary words; the patterns below still catch them by shape

_KEY = r"[A-Za-z0-9_~+/=.-]"
PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?<=/bot)\d+:[\w-]+"), HIDDEN),  # Telegram: the Bot API puts the token in every URL
    (re.compile(r"\b\d{6,12}:[\w-]{30,}"), HIDDEN),  # a bare Telegram token
    (re.compile(r"\bxox[a-z]-[\w-]+|\bxapp-[\w-]+"), HIDDEN),  # Slack bot, user, app and refresh tokens
    (re.compile(r"\bsk-[\w-]{10,}"), HIDDEN),  # OpenAI and Anthropic keys (sk-…, sk-proj-…, sk-ant-…)
    (re.compile(r"\b[MNO][\w-]{23,27}\.[\w-]{6,7}\.[\w-]{27,40}"), HIDDEN),  # a Discord bot token
    (re.compile(r"(hooks\.slack\.com/)[\w/-]+"), rf"\1{HIDDEN}"),  # Slack webhook and response URLs
    # A header or field that carries a credential, with or without its scheme.
    (re.compile(r"(?i)\b((?:proxy-)?authorization|x-api-key|api-key)([\"']?\s*[:=]\s*[\"']?)"
                r"(?:(?:bearer|bot|basic|token)\s+)?[^\s\"',;}]+"), rf"\1\2{HIDDEN}"),
    (re.compile(rf"(?i)\b(bearer|bot)\s+(?={_KEY}*\d){_KEY}{{16,}}"), rf"\1 {HIDDEN}"),
    (re.compile(r"(?i)\b([\w-]*(?:password|passwd|secret|token|api_?key))([\"']?\s*[:=]\s*[\"']?)"
                r"(?!<redacted>)[^\s&\"',;}<>]+"), rf"\1\2{HIDDEN}"),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*):[^@\s/]+@"), rf"\1:{HIDDEN}@"),  # user:password@host
    (re.compile(r"\b[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}\b"), "••••-••••"),  # a one-time code (core.access)
    (re.compile(r"(?i)([?&#;]code=)[^&\s#\"'<>|]+"), rf"\1{HIDDEN}"),  # an OAuth redirect's authorization code
]


class Redactor:
    """Masks secret values it was given, and secret shapes it knows, in any text."""

    def __init__(self, values: Iterable[str | None] = ()) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self.add(*values)

    def add(self, *values: str | None) -> None:
        """Mask these values too (and their URL-encoded forms); short or empty ones are left to the patterns."""
        with self._lock:
            for value in values:
                if value and len(value.strip()) >= MIN_LEN:
                    self._values |= {value, quote(value, safe=""), quote_plus(value)}

    def __call__(self, text: str) -> str:
        """`text` with every secret masked."""
        for value in sorted(self._values, key=len, reverse=True):  # longest first: a value may contain another
            if value in text:
                text = text.replace(value, HIDDEN)
        for pattern, replacement in PATTERNS:
            text = pattern.sub(replacement, text)
        return text


REDACTOR = Redactor()  # the process's: what install_log_redaction masks


def redact(text: str) -> str:
    """`text` with every known secret masked (for what is shown outside logs: `pixie doctor`, errors)."""
    return REDACTOR(text)


def secret_values(settings: BaseModel) -> list[str]:
    """The secrets in a settings object: fields named like a token/key/secret/password, and URL passwords."""
    out = []
    for name, value in settings:
        if not isinstance(value, str) or not value:
            continue
        if SECRET_FIELD.search(name):  # PIXIE_SECRET_KEY may list several keys: each is masked on its own too
            out += [value, *(part.strip() for part in value.split(",") if part.strip())]
        elif "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:  # not a URL after all
                continue
            if password:
                out.append(password)
    return out


def scrub(record: logging.LogRecord, redactor: Redactor = REDACTOR) -> None:
    """Mask a log record in place: its message with the arguments merged in, its traceback and stack.

    The traceback is kept as masked text only (`exc_text`, which every formatter prints): the
    exception object itself (`exc_info`) is dropped, since its args hold the unmasked values.
    """
    try:
        message = record.getMessage()
    except Exception:  # arguments that do not fit the format: keep both, masked, instead of a logging error
        message = f"{record.msg} {record.args!r}"
    record.msg, record.args = redactor(str(message)), None
    if record.exc_info:
        if not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None
    if record.exc_text:
        record.exc_text = redactor(record.exc_text)
    if record.stack_info:
        record.stack_info = redactor(record.stack_info)


class RedactingFilter(logging.Filter):
    """A filter that masks each record it sees (for handlers fed records made outside the factory)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask, and let the record through."""
        scrub(record)
        return True


_installed = False


def install_log_redaction(*values: str | None) -> None:
    """Mask these secrets, and every known secret shape, in every log record of this process from now on.

    Safe to call again (each call adds its values): the factory is wrapped once.
    """
    global _installed
    REDACTOR.add(*values)
    if _installed:
        return
    _installed = True
    made = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = made(*args, **kwargs)
        scrub(record)
        return record

    logging.setLogRecordFactory(factory)
    for handler in logging.getLogger().handlers:  # records a handler gets from elsewhere (makeLogRecord)
        handler.addFilter(RedactingFilter())
