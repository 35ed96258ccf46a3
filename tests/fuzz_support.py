"""Generated hostile input for each input surface, and how one round of it is judged.

Shared by tests/test_fuzz.py (a few hundred inputs on every test run) and bench/fuzz_inputs.py
(tens of thousands, for docs/reliability.md). A round counts what went wrong: an exception that
escaped (crash), a turn that failed inside and said "something went wrong" (crash too: the
assistant caught its own failure), traceback text in anything shown to a person, a round that
took longer than HANG_SECONDS (hang), and — for `--jsonl` — any input line without exactly
one output line.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from bots.app import Runtime
from bots.terminal import run_jsonl
from core.config import ConfigError, load_settings
from core.types import IncomingMessage

HANG_SECONDS = 10.0
WENT_WRONG = "went wrong"
NOW = "2026-01-13T09:00:00+01:00"

# ---------------------------------------------------------------- pieces

ANY_CHAR = st.characters(exclude_categories=())  # controls, NUL, private use and unassigned code points too
SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])  # lone halves: not encodable as UTF-8
ODD_TEXT = st.text(st.one_of(ANY_CHAR, SURROGATES), max_size=200)
YEARS = st.one_of(st.sampled_from([0, 1, 1899, 1900, 1970, 2026, 2200, 2201, 9999, 10000, -1]),
                  st.integers(-10**6, 10**6), st.integers(-10**40, 10**40))
PHRASES = [
    "remind me to call mom in {n} years", "add pay the rent in {n} days", "meet Bob on {n}-01-01 at 10am",
    "set my timezone to UTC{n:+d}", "set my timezone to UTC-{n}", "move the dentist to 12/31/{n}",
    "what's on my calendar in {n} weeks", "in {n} hours remind me to stretch", "snooze it for {n} minutes",
    "remember that the gate code is {n}", "send my digest at {n}:{n}", "lunch with Priya on Jan 3 {n} 12:30-1:30",
    "every {n} months water the cactus", "what did I do on {n}-02-29?", "add file taxes by the {n}th",
    "/tasks", "/today", "/help", "delete all my tasks", "yes", "the second one", "mark it done",
]
PHRASE = st.builds(lambda p, n: p.format(n=n), st.sampled_from(PHRASES), YEARS)
CHAT_TEXT = st.one_of(PHRASE, ODD_TEXT, st.builds(lambda a, b: f"{a} {b}", PHRASE, ODD_TEXT),
                      st.integers(1, 12_000).map(lambda n: "a" * n))
JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats() | ODD_TEXT,
                          lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ODD_TEXT, inner, max_size=4),
                          max_leaves=12)
ZONES = st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=14)), dt.timezone(-dt.timedelta(hours=12)),
                         ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), None])
SANE_NOW = st.datetimes(dt.datetime(2024, 1, 1), dt.datetime(2030, 12, 31), timezones=st.just(dt.UTC))
NOW_VALUE = st.one_of(
    SANE_NOW.map(dt.datetime.isoformat),
    st.datetimes(dt.datetime(1, 1, 2), dt.datetime(9999, 12, 30), timezones=ZONES).map(dt.datetime.isoformat),
    st.dates().map(dt.date.isoformat), st.text(max_size=40), JSON_VALUE)
USER = st.one_of(st.sampled_from(["ada", "bob", "telegram:1004", "terminal:ada", " ada "]), ODD_TEXT,
                 st.integers(190, 260).map(lambda n: "u" * n), JSON_VALUE)
NAMES = st.sampled_from(["PIXIE_DIGEST_TIME", "PIXIE_EMBEDDINGS_DIMENSIONS", "PIXIE_LLM", "PIXIE_EMBEDDINGS",
                         "PIXIE_LLM_BUDGET", "PIXIE_LLM_TIMEOUT", "PIXIE_DATA_DIR", "PIXIE_DATABASE_URL",
                         "SLACK_HTTP_PORT", "TELEGRAM_WEBHOOK_PORT", "PIXIE_OWNERS", "PIXIE_LLM_PRICES",
                         "ANTHROPIC_API_KEY", "PIXIE_LISTEN_HOST", "NOT_A_SETTING"])


def _dumps(obj: object, ascii_only: bool) -> str:
    return json.dumps(obj, ensure_ascii=ascii_only)


_OBJECT = st.fixed_dictionaries({}, optional={"text": st.one_of(CHAT_TEXT, CHAT_TEXT, JSON_VALUE), "user": USER,
                                              "now": NOW_VALUE, "extra": JSON_VALUE})
JSONL_LINE = st.one_of(
    st.builds(_dumps, _OBJECT, st.booleans()),
    st.builds(_dumps, st.fixed_dictionaries({"text": CHAT_TEXT, "now": SANE_NOW.map(dt.datetime.isoformat)}),
              st.booleans()),
    st.builds(_dumps, JSON_VALUE, st.booleans()),
    st.builds(lambda n, o, c: o * n + c * n, st.integers(100, 100_000), st.sampled_from(["[", '{"a":', '{"text":[']),
              st.sampled_from(["]", "}", ""])),  # nested thousands deep
    st.integers(1, 6000).map(lambda n: '{"text": "hi", "now": 1' + "0" * n + "}"),  # numbers too big to read
    st.integers(300, 5000).map(lambda n: '{"text": "hi", "now": 1e' + str(n) + "}"),
    st.text(st.one_of(ANY_CHAR, SURROGATES), max_size=300),
).map(lambda line: line.replace("\n", " ").replace("\r", " ")).filter(str.strip)
_ENV_LINE = st.one_of(
    st.builds(lambda k, v, q: f"{k}={q}{v}{q}", NAMES, st.one_of(ODD_TEXT, YEARS.map(str), st.sampled_from(
        ["25:99", "7:5", "07:30", "abc", "-1", "0", "1e999", "nan", "inf", "/etc/passwd", "/", "x" * 5000,
         "postgresql://u:p@h:99999/d", "auto", "offline", "{", "[1,2]", ""])), st.sampled_from(["", '"', "'"])),
    st.builds(lambda b: b.decode("latin-1"), st.binary(max_size=60)),
    st.sampled_from(["export PIXIE_LLM=offline", "# a comment", "=", "==", "PIXIE_LLM", "'", '"unclosed']))
ENV_FILE = st.one_of(st.lists(_ENV_LINE, max_size=8).map(lambda ls: "\n".join(ls).encode("utf-8", "surrogatepass")),
                     st.binary(max_size=300))

# ---------------------------------------------------------------- judging a round


@dataclass
class Tally:
    """What a surface's rounds came to."""

    inputs: int = 0
    crashes: int = 0
    tracebacks: int = 0
    hangs: int = 0
    examples: list[str] = field(default_factory=list)  # the first few failures, to reproduce

    def fail(self, kind: str, what: object) -> None:
        """Count a failure of `kind` (crashes, tracebacks, hangs) and keep a sample of it."""
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.examples) < 5:
            self.examples.append(f"{kind}: {what!r}"[:400])

    @property
    def clean(self) -> bool:
        """Whether nothing went wrong."""
        return not (self.crashes or self.tracebacks or self.hangs)


async def jsonl_round(rt: Runtime, lines: list[str], tally: Tally, user: str = "fuzz") -> None:
    """Feed `lines` to `pixie chat --jsonl`; then the stream and the database must still serve a person."""
    check = [json.dumps({"text": "add water the plants", "now": NOW}), json.dumps({"text": "/tasks", "now": NOW}),
             json.dumps({"text": "/tasks", "user": "telegram:1004", "now": NOW})]
    feed = lines + check
    out = io.StringIO()
    started = time.monotonic()
    try:
        await asyncio.wait_for(run_jsonl(rt, user, "UTC", io.StringIO("".join(x + "\n" for x in feed)), out),
                               HANG_SECONDS * 3)
    except TimeoutError:
        tally.fail("hangs", lines)
        return
    except Exception as exc:  # the stream died: the very thing that must not happen
        tally.fail("crashes", (type(exc).__name__, lines))
        return
    finally:
        tally.inputs += len(lines)
    if time.monotonic() - started > HANG_SECONDS * max(1, len(feed) / 10):
        tally.fail("hangs", lines)
    got = out.getvalue().split("\n")[:-1]  # not splitlines(): U+2028 inside a reply is not a line break
    if len(got) != len(feed):
        tally.fail("crashes", f"{len(feed)} lines in, {len(got)} out: {lines}")
        return
    for raw, line in zip(feed, got, strict=True):
        if "Traceback" in line or 'File "' in line:
            tally.fail("tracebacks", raw)
        answer = json.loads(line)
        if WENT_WRONG in str(answer.get("reply")) or not (answer.get("reply") or answer.get("error")):
            tally.fail("crashes", raw)
    made, mine, theirs = (json.loads(x) for x in got[-3:])
    if not (made["actions"] and made["actions"][0]["ok"] and mine["actions"] and mine["actions"][0]["ok"]
            and theirs["actions"] and theirs["actions"][0]["ok"]):
        tally.fail("crashes", f"the database no longer serves: {got[-3:]}")


async def chat_round(rt: Runtime, texts: list[str], now: dt.datetime, tally: Tally, user: str = "chatfuzz") -> None:
    """Send `texts` to the assistant as one person; every one gets a reply that is no failure."""
    for text in texts + ["/tasks"]:
        started = time.monotonic()
        try:
            reply = await asyncio.wait_for(rt.assistant.handle(IncomingMessage(
                "terminal", user, text, ts=now, display_name=user), tz="UTC"), HANG_SECONDS * 3)
        except TimeoutError:
            tally.fail("hangs", text)
            continue
        except Exception as exc:
            tally.fail("crashes", (type(exc).__name__, text))
            continue
        finally:
            tally.inputs += 1
        if time.monotonic() - started > HANG_SECONDS:
            tally.fail("hangs", text)
        if "Traceback" in reply.text:
            tally.fail("tracebacks", text)
        if WENT_WRONG in reply.text or not reply.text:
            tally.fail("crashes", text)
    tally.inputs -= 1  # the closing /tasks is the check, not an input


def settings_case(env_file: Path, content: bytes, tally: Tally) -> None:
    """Read settings from a `.env` holding `content`: they load, or one clear line refuses them."""
    env_file.write_bytes(content)
    tally.inputs += 1
    started = time.monotonic()
    try:
        load_settings(_env_file=env_file)
    except ConfigError as exc:
        said = str(exc)
        if "Traceback" in said or "\n" in said or not said.strip():
            tally.fail("tracebacks", content)
    except Exception as exc:
        tally.fail("crashes", (type(exc).__name__, str(exc)[:100], content))
    if time.monotonic() - started > HANG_SECONDS:
        tally.fail("hangs", content)
