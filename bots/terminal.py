"""The terminal adapter: an interactive chat, and the `--jsonl` protocol for replays and scripts."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import sys
import threading
import unicodedata
from collections.abc import Callable
from typing import Any, TextIO, TypeVar

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from bots.app import Runtime
from core import clock
from core.types import IncomingMessage, OutgoingNotification, Reply

PLATFORM = "terminal"
log = logging.getLogger(__name__)
T = TypeVar("T")


class LineError(ValueError):
    """A jsonl input line that cannot be used; the message is the reply."""


MAX_NAME = 200  # the width of identities.platform_user_id


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a terminal user's name (None when it can): empty, too long, or unprintable."""
    if not name.strip():
        return "it is empty"
    if len(name.strip()) > MAX_NAME:
        return f"it is longer than {MAX_NAME} characters"
    # Control characters (NUL above all: Postgres cannot store it), lone surrogates, unassigned code points.
    if any(unicodedata.category(ch)[0] == "C" for ch in name):
        return "it holds control or unprintable characters"
    return None


def read_line(raw: str, default_user: str) -> tuple[str, str, dt.datetime]:
    """(user, text, now) from one jsonl input line; LineError with a clear reason otherwise.

    `now` must be an ISO 8601 time with an offset between 1900 and 2200; it defaults to the real clock.
    """
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise LineError("I couldn't read that line: it is not JSON I can use.") from None
    if not isinstance(obj, dict):
        raise LineError("I couldn't read that line: expected a JSON object like {\"text\": \"…\"}.")
    text = obj.get("text")
    if not isinstance(text, str):
        raise LineError("I couldn't read that line: \"text\" must be a string.")
    user = obj.get("user", default_user)
    problem = name_problem(user) if isinstance(user, str) else "it is not a string"
    if problem:
        raise LineError(f"I couldn't read that line: \"user\" must be a short printable name ({problem}).")
    now = dt.datetime.now(clock.UTC)
    if obj.get("now") is not None:
        now = _read_now(obj["now"])
    return user.strip(), text, now


def _read_now(value: object) -> dt.datetime:
    shown = repr(value)[:60]
    try:
        when = clock.read_when(value, clock.zone("UTC")) if isinstance(value, str) and len(value) < 100 else None
    except clock.OutOfRange:
        raise LineError(f"I couldn't use \"now\" {shown}: {clock.OUT_OF_RANGE}") from None
    except ValueError:
        when = None
    if not isinstance(when, dt.datetime) or not isinstance(value, str):
        raise LineError(f"I couldn't read \"now\": {shown} is not an ISO 8601 time like 2026-01-13T09:00:00+01:00.")
    if dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00")).tzinfo is None:
        raise LineError(f"I couldn't use \"now\" {shown}: it needs an offset, like 2026-01-13T09:00:00+01:00.")
    return when


def _notes(items: list[OutgoingNotification]) -> list[dict[str, Any]]:
    return [{"kind": n.kind, "text": n.text} for n in items]


async def read_blocking(fn: Callable[[], T]) -> T:
    """`fn()` (a blocking read of the terminal) in a daemon thread.

    Unlike asyncio.to_thread, a read still waiting for input never holds up the exit: Ctrl-C or SIGTERM
    end the chat at once, and what it started (the embedded Postgres) is stopped on the way out.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, exc: BaseException | None) -> None:
        if done.done():  # the chat stopped waiting (cancelled)
            return
        if exc is not None:
            done.set_exception(exc)
        else:
            done.set_result(result)  # type: ignore[arg-type]

    def read() -> None:
        try:
            result, exc = fn(), None
        except BaseException as e:  # EOFError, KeyboardInterrupt: the awaiting chat decides
            result, exc = None, e
        try:
            loop.call_soon_threadsafe(settle, result, exc)
        except RuntimeError:  # the loop has closed: nobody is waiting any more
            pass

    threading.Thread(target=read, name="pixie-terminal-read", daemon=True).start()
    return await done


def moved_to(reply: Reply) -> str | None:
    """The zone a reply left its user in, if it may have changed it: "I'm in Tokyo now", or an undo (which can put
    the previous zone back; the terminal's zone must follow, or its next message would move the user again)."""
    return next((a.result["tz"] for a in reply.actions
                 if a.tool in ("set_timezone", "undo") and a.ok and "tz" in a.result),
                None)


async def run_jsonl(rt: Runtime, user: str, tz: str, stdin: TextIO = sys.stdin,
                    stdout: TextIO = sys.stdout) -> None:
    """One JSON object per input line → one per output line, in order, flushed after each.

    `tz` is every speaker's zone (the --tz option or the stored one) until they say they moved.
    A line that cannot be used, or whose turn fails, gets {"error": …} (and the same words as
    "reply"), and the stream goes on.
    """
    zones: dict[str, str] = {}
    while True:
        raw = await read_blocking(stdin.readline)
        if not raw:
            return
        if not raw.strip():
            continue
        try:
            out = await _answer(rt, raw, user, tz, zones)
        except LineError as exc:
            out = _error(str(exc))
        except Exception:  # one line's failure must not end the stream: say so, log why, go on
            log.exception("a --jsonl line failed")
            out = _error("Sorry — something went wrong on my side with that line; nothing was changed.")
        stdout.write(_dumps(out) + "\n")
        stdout.flush()


async def _answer(rt: Runtime, raw: str, user: str, tz: str, zones: dict[str, str]) -> dict[str, Any]:
    who, text, now = read_line(raw, user)
    zone = zones.get(who, tz)
    notes = await rt.assistant.tick(PLATFORM, who, now, zone)
    reply = await rt.assistant.handle(IncomingMessage(PLATFORM, who, text, ts=now, display_name=who), tz=zone)
    zones[who] = moved_to(reply) or zone
    return {"reply": reply.text, "actions": [a.as_dict() for a in reply.actions], "notifications": _notes(notes)}


def _error(message: str) -> dict[str, Any]:
    return {"error": message, "reply": message, "actions": [], "notifications": []}


def _dumps(out: dict[str, Any]) -> str:
    line = json.dumps(out, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate echoed from the input: escape it rather than fail the write
        line = json.dumps(out)
    return line


async def run_interactive(rt: Runtime, user: str, tz: str, console: Console | None = None) -> None:
    """A friendly prompt; reminders and the digest appear while you chat."""
    console = console or Console()
    console.print(Panel.fit(Text.from_markup(
        f"[bold magenta]Pixie[/] — your secretary. Talking to [bold]{user}[/] ({tz}).\n"
        "Try: [italic]remind me to call mom at 6pm[/], [italic]what's on my calendar tomorrow?[/]\n"
        "Ctrl-D or [bold]/quit[/] to leave."), border_style="magenta"))

    async def show_due() -> None:
        for note in await rt.assistant.tick(PLATFORM, user, dt.datetime.now(clock.UTC), tz):
            style = "yellow" if note.kind == "reminder" else "cyan"
            console.print(Panel(note.text, title=note.kind, border_style=style))

    async def ticker() -> None:
        while True:
            await asyncio.sleep(30)
            await show_due()

    task = asyncio.create_task(ticker())
    try:
        while True:
            await show_due()
            try:
                text = await read_blocking(lambda: console.input("[bold green]you ›[/] "))
            except (EOFError, KeyboardInterrupt):
                console.print()
                return
            if text.strip() in ("/quit", "/exit"):
                return
            if not text.strip():
                continue
            reply = await rt.assistant.handle(
                IncomingMessage(PLATFORM, user, text, ts=dt.datetime.now(clock.UTC), display_name=user), tz=tz)
            tz = moved_to(reply) or tz
            console.print(Text("pixie › ", style="bold magenta") + Text(reply.text))
    finally:
        task.cancel()
