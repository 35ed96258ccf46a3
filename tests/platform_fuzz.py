"""Generated hostile platform payloads, fed to the real bots through the fakes, and how a round is judged.

Shared by tests/test_platform_fuzz.py (a few hundred payloads per platform on every test run) and
bench/fuzz_platforms.py (tens of thousands, for docs/reliability.md). Each platform's library runs
as in production (python-telegram-bot, slack-bolt over Socket Mode, discord.py over the gateway)
against tests/fakes/, so a payload goes the whole way: the library's parser, the adapter, the inbox,
the assistant, and back out as a reply.

A round is a batch of generated payloads, then a sentinel message from an owner ("/tasks") whose
answer proves the bot still serves. It counts:
- crashes: an exception logged by the library's or Pixie's error handler (any log record at ERROR
  or above, or one carrying a traceback), a reply saying "something went wrong", or a sentinel that
  is never answered (the bot stopped serving);
- tracebacks: traceback text in anything sent to a person;
- hangs: a round taking over HANG_SECONDS per 10 payloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import traceback
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import discord
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from bots.app import Runtime
from bots.discord import DiscordBot
from bots.slack import SlackBot
from bots.telegram import TelegramBot
from core.inbox import Inbox
from tests.chat_support import admit, serving
from tests.fakes import discord as fd
from tests.fakes import slack as fs
from tests.fakes import telegram as ft
from tests.fuzz_support import CHAT_TEXT, ODD_TEXT, WENT_WRONG, Tally

HANG_SECONDS = 10.0
SENTINEL = "/tasks"

# ---------------------------------------------------------------- shared pieces

JUNK = st.recursive(st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats() | ODD_TEXT,
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ODD_TEXT, inner, max_size=3),
                    max_leaves=6)
TEXT = st.one_of(CHAT_TEXT, st.sampled_from(["", " ", "\n", "\u200b", "🧚" * 3000, "/start", "/link 12345678",
                                             "/digest here", "/invite", "/admit 1", "/tasks@PixieTestBot"]))


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(None), strategy)


def _drop_nones(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


# ---------------------------------------------------------------- Telegram updates

# Telegram's own ids: owners 1001/1002 (admitted), strangers 1003.., the bot itself, a group.
TG_OWNERS, TG_PEOPLE, TG_GROUP = (1001, 1002), [1001, 1002, 1003, 1004, ft.BOT["id"]], -100777


def _tg_user(uid: int, name: str, is_bot: bool) -> dict[str, Any]:
    return {"id": uid, "is_bot": is_bot, "first_name": name or "x"}


_TG_FROM = st.builds(_tg_user, st.sampled_from(TG_PEOPLE), ODD_TEXT, st.booleans())
_TG_CHAT = st.one_of(
    st.builds(lambda u: {"id": u, "type": "private", "first_name": "Ada"}, st.sampled_from(TG_PEOPLE)),
    st.builds(lambda t, title: {"id": TG_GROUP, "type": t, "title": title or "g"},
              st.sampled_from(["group", "supergroup", "channel"]), ODD_TEXT))
_TG_ENTITY = st.builds(lambda t, o, n: {"type": t, "offset": o, "length": n},
                       st.sampled_from(["mention", "bot_command", "url", "bold", "text_link", "custom_emoji",
                                        "spoiler", "blockquote", "not_a_kind"]),
                       st.integers(-5, 10_000), st.integers(-5, 10_000))


def _tg_text(text: str, mention: bool) -> str:
    return f"@{ft.BOT['username']} {text}" if mention else text


_TG_MESSAGE = st.builds(
    lambda mid, date, chat, sender, text, mention, entities, extra: _drop_nones({
        "message_id": mid, "date": date, "chat": chat, "from": sender,
        "text": _tg_text(text, mention) if text is not None else None, "entities": entities, **extra}),
    st.integers(1, 2**31 - 1), st.integers(0, 2**31 - 1), _TG_CHAT, _maybe(_TG_FROM), _maybe(TEXT), st.booleans(),
    _maybe(st.lists(_TG_ENTITY, max_size=4)),
    st.fixed_dictionaries({}, optional={
        "caption": ODD_TEXT, "edit_date": st.integers(0, 2**31 - 1),
        "sticker": st.just({"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1, "is_animated": False,
                            "is_video": False, "type": "regular"}),
        "new_chat_members": st.lists(_TG_FROM, max_size=2),
        "reply_to_message": st.just({"message_id": 1, "date": 0, "chat": {"id": 1001, "type": "private"},
                                     "text": "earlier"})}))
_TG_CALLBACK = st.builds(
    lambda qid, sender, data, msg: _drop_nones({"id": qid or "0", "from": sender, "chat_instance": "ci",
                                                "data": data, "message": msg}),
    ODD_TEXT, _TG_FROM,
    _maybe(st.one_of(ODD_TEXT, st.builds(lambda a, v: f"{a}:{v}", st.sampled_from(["done", "snooze", "x", ""]),
                                         st.one_of(ODD_TEXT, st.uuids().map(str), st.integers().map(str))))),
    _maybe(st.one_of(_TG_MESSAGE, st.builds(lambda c: {"message_id": 5, "date": 0, "chat": c}, _TG_CHAT))))
TELEGRAM_UPDATE = st.one_of(
    st.builds(lambda m: {"message": m}, _TG_MESSAGE),
    st.builds(lambda m: {"message": m}, _TG_MESSAGE),
    st.builds(lambda m: {"edited_message": m}, _TG_MESSAGE),
    st.builds(lambda m: {"channel_post": m}, _TG_MESSAGE),
    st.builds(lambda q: {"callback_query": q}, _TG_CALLBACK),
    st.builds(lambda k, v: {k: v}, st.sampled_from(["poll_answer", "my_chat_member", "message_reaction",
                                                    "business_message", "a_future_update_type"]), JUNK),
    st.just({}),
)


# ---------------------------------------------------------------- Slack payloads

SLACK_OWNERS = ("U0ADA", "U0BOB")
# slack-bolt itself reads `team`, `channel` and `user` (as a string or an object) before any listener runs;
# those keep Slack's types (or go missing). Every field Pixie reads gets anything at all.
_SLACK_USER = st.one_of(st.sampled_from([*SLACK_OWNERS, "U0EVE", fs.BOT_USER]), ODD_TEXT)
_OBJ = st.fixed_dictionaries({}, optional={"id": JUNK, "team_id": JUNK, "domain": JUNK})
_SLACK_EVENT = st.builds(
    lambda base, over, drop: {k: v for k, v in {**base, **over}.items() if k not in drop},
    st.fixed_dictionaries({"type": st.sampled_from(["message", "app_mention", "reaction_added", "app_home_opened"]),
                           "channel_type": st.sampled_from(["im", "channel", "group", "mpim"]),
                           "user": _SLACK_USER, "text": TEXT, "ts": st.just("1.000001"),
                           "channel": st.sampled_from(["D0ADA", "C0GENERAL", "G0PRIV"]), "team": st.just(fs.TEAM)}),
    st.fixed_dictionaries({}, optional={
        "subtype": st.sampled_from(["bot_message", "message_changed", "message_deleted", "thread_broadcast",
                                    "file_share", "channel_join"]),
        "bot_id": st.just("B0OTHER"), "thread_ts": st.one_of(st.just("1.000000"), ODD_TEXT, st.none()),
        "text": JUNK, "user": st.one_of(_OBJ, st.none(), ODD_TEXT), "channel": st.one_of(ODD_TEXT, _OBJ),
        "channel_type": JUNK, "ts": JUNK, "blocks": JUNK, "edited": JUNK,
        "message": st.fixed_dictionaries({"text": TEXT, "user": _SLACK_USER})}),
    st.sets(st.sampled_from(["user", "text", "channel", "ts", "type", "team"]), max_size=2))
_SLACK_EVENTS_BODY = st.builds(
    lambda event, over, drop: {k: v for k, v in {
        "token": "x", "team_id": fs.TEAM, "api_app_id": "A0APP", "type": "event_callback",
        "event_id": f"Ev{time.monotonic_ns()}", "event_time": 1, "event": event,
        "authorizations": [{"team_id": fs.TEAM, "user_id": fs.BOT_USER, "is_bot": True}], **over}.items()
        if k not in drop},
    _SLACK_EVENT, st.fixed_dictionaries({}, optional={"team_id": st.one_of(ODD_TEXT, st.none()), "event_id": JUNK,
                                                      "type": ODD_TEXT, "event": st.dictionaries(ODD_TEXT, JUNK)}),
    st.sets(st.sampled_from(["team_id", "event_id", "event", "authorizations"]), max_size=1))
_SLACK_COMMAND = st.builds(
    lambda user, text, over, drop: {k: v for k, v in {
        "token": "x", "team_id": fs.TEAM, "team_domain": "t", "channel_id": "D0ADA", "channel_name": "dm",
        "user_id": user, "user_name": "ada", "command": "/pixie", "text": text, "api_app_id": "A0APP",
        "trigger_id": f"{time.monotonic_ns()}.1.x", "response_url": "RESPOND", **over}.items() if k not in drop},
    _SLACK_USER, TEXT, st.fixed_dictionaries({}, optional={"text": JUNK, "command": st.sampled_from(["/other", ""]),
                                                           "team_id": ODD_TEXT, "response_url": JUNK,
                                                           "trigger_id": JUNK, "channel_id": ODD_TEXT}),
    st.sets(st.sampled_from(["user_id", "text", "response_url", "trigger_id", "channel_id"]), max_size=2))
_SLACK_ACTION = st.builds(
    lambda aid, value, over: {"type": "button", "action_id": aid, "block_id": "pixie_buttons", "value": value,
                              "text": {"type": "plain_text", "text": "Done"}, "action_ts": f"{time.monotonic_ns()}",
                              **over},
    st.sampled_from(["pixie_done_0", "pixie_snooze_1", "pixie_done_99", "other_action"]),
    st.one_of(ODD_TEXT, st.builds(lambda a, v: f"{a}:{v}", st.sampled_from(["done", "snooze", "x"]),
                                  st.one_of(ODD_TEXT, st.uuids().map(str)))),
    st.fixed_dictionaries({}, optional={"value": JUNK, "action_ts": JUNK}))
_SLACK_PRESS = st.builds(
    lambda user, actions, over, drop: {k: v for k, v in {
        "type": "block_actions", "team": {"id": fs.TEAM, "domain": "t"}, "user": {"id": user, "team_id": fs.TEAM},
        "api_app_id": "A0APP", "token": "x", "trigger_id": "1.1.y",
        "container": {"type": "message", "message_ts": "1.000002", "channel_id": "D0ADA"},
        "channel": {"id": "D0ADA"}, "response_url": "RESPOND",
        "message": {"type": "message", "ts": "1.000002", "text": "Reminder", "blocks": []},
        "actions": actions, **over}.items() if k not in drop},
    _SLACK_USER, st.lists(_SLACK_ACTION, min_size=1, max_size=2),
    st.fixed_dictionaries({}, optional={"team": _OBJ, "user": _OBJ, "channel": _OBJ, "message": JUNK}),
    st.sets(st.sampled_from(["team", "channel", "message", "container"]), max_size=2))
SLACK_ENVELOPE = st.one_of(
    st.tuples(st.just("events_api"), _SLACK_EVENTS_BODY),
    st.tuples(st.just("events_api"), _SLACK_EVENTS_BODY),
    st.tuples(st.just("slash_commands"), _SLACK_COMMAND),
    st.tuples(st.just("interactive"), _SLACK_PRESS),
    # Slack's envelope always carries an object as its payload (slack_sdk cannot read anything else).
    st.tuples(st.sampled_from(["events_api", "interactive", "slash_commands", "disconnect", "unknown_kind"]),
              st.fixed_dictionaries({}, optional={
                  "type": ODD_TEXT, "event": st.dictionaries(ODD_TEXT, JUNK, max_size=3), "team_id": ODD_TEXT,
                  "user": st.one_of(_OBJ, ODD_TEXT), "actions": st.lists(st.dictionaries(ODD_TEXT, JUNK), max_size=2),
                  "text": JUNK, "command": JUNK, "trigger_id": JUNK})),
)


# ---------------------------------------------------------------- Discord dispatches

DISCORD_OWNERS = (501, 502)
_DC_PEOPLE = [501, 502, 503, fd.BOT_ID]
_DC_AUTHOR = st.builds(lambda uid, name, bot: {**fd.user(uid, "ada"), "global_name": name or None,
                                               **({"bot": True} if bot else {})},
                       st.sampled_from(_DC_PEOPLE), ODD_TEXT, st.booleans())


def _dc_message(mid: int, author: dict[str, Any], content: str, guild: bool, mention: bool, kind: int,
                extra: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(mid), "channel_id": str(7000 + int(author["id"]) if not guild else 8000), "author": author,
        "content": f"<@{fd.BOT_ID}> {content}" if mention else content,
        "timestamp": "2026-01-13T09:00:00.000000+00:00", "edited_timestamp": None, "tts": False,
        "mention_everyone": False, "mentions": [fd.BOT] if mention else [], "mention_roles": [], "attachments": [],
        "embeds": [], "pinned": False, "type": kind, "flags": 0, **extra}
    if guild:
        data.update(guild_id="9000", member={"roles": [], "joined_at": "2025-01-01T00:00:00+00:00",
                                             "deaf": False, "mute": False})
    return data


_DC_MESSAGE = st.builds(
    _dc_message, st.integers(10**17, 2**63 - 1), _DC_AUTHOR, TEXT, st.booleans(), st.booleans(),
    st.sampled_from([0, 0, 0, 7, 19, 20, 46, 255]),
    st.fixed_dictionaries({}, optional={
        "nonce": st.one_of(ODD_TEXT.map(lambda s: s[:25]), st.integers(0, 10**12)),
        "edited_timestamp": st.just("2026-01-13T09:01:00.000000+00:00"),
        "mention_everyone": st.booleans(), "webhook_id": st.just("123"),
        "attachments": st.just([{"id": "1", "filename": "a.png", "size": 1, "url": "http://x/a.png",
                                 "proxy_url": "http://x/a.png"}]),
        "embeds": st.lists(st.fixed_dictionaries({}, optional={"title": ODD_TEXT, "description": ODD_TEXT}),
                           max_size=2),
        "message_reference": st.just({"message_id": "1", "channel_id": "7501"}),
        "flags": st.integers(0, 2**16), "components": st.just([]),
        "sticker_items": st.just([{"id": "1", "name": "s", "format_type": 1}])}))
_DC_CUSTOM_ID = st.one_of(ODD_TEXT.map(lambda s: s[:100]),
                          st.builds(lambda a, v: f"pixie:{a}:{v}"[:100], st.sampled_from(["done", "snooze", "x", ""]),
                                    st.one_of(ODD_TEXT, st.uuids().map(str), st.integers().map(str))))
_DC_OPTION_VALUE = st.one_of(ODD_TEXT, st.integers(-10**6, 10**6), st.booleans())


def _dc_interaction(iid: int, kind: int, uid: int, guild: bool, data: dict[str, Any], with_message: bool,
                    message: dict[str, Any]) -> dict[str, Any]:
    channel = 8000 if guild else 7000 + uid
    who: dict[str, Any] = {"user": fd.user(uid)}
    if guild:
        who = {"guild_id": "9000", "member": {"user": fd.user(uid), "roles": [], "deaf": False, "mute": False,
                                              "joined_at": "2025-01-01T00:00:00+00:00", "permissions": "0",
                                              "flags": 0}}
    out = {"id": str(iid), "application_id": str(fd.APP_ID), "type": kind, "token": f"tok{iid}", "version": 1,
           "channel_id": str(channel),
           "channel": {"id": str(channel), "type": 1} if not guild else
           {"id": str(channel), "type": 0, "name": "general", "guild_id": "9000", "position": 0,
            "permission_overwrites": [], "nsfw": False, "parent_id": None},
           **who, "locale": "en-US", "app_permissions": "0", "entitlements": [], "authorizing_integration_owners": {},
           "context": 0 if guild else 1, "attachment_size_limit": 10485760, "data": data}
    if with_message:
        out["message"] = message
    return out


_DC_COMMAND_DATA = st.builds(
    lambda name, options: {"id": "1", "name": name, "type": 1, "options": options},
    st.sampled_from(["pixie", "tasks", "today", "help", "link", "digest", "invite", "gone_command"]),
    st.lists(st.builds(lambda n, v: {"name": n, "type": 3 if isinstance(v, str) else 4 if isinstance(v, int)
                                     and not isinstance(v, bool) else 5, "value": v},
                       st.sampled_from(["text", "code", "where", "junk"]), _DC_OPTION_VALUE), max_size=2))
_DC_COMPONENT_DATA = st.builds(lambda cid, ct: {"custom_id": cid, "component_type": ct}, _DC_CUSTOM_ID,
                               st.sampled_from([2, 2, 3, 8]))
DISCORD_DISPATCH = st.one_of(
    st.tuples(st.just("MESSAGE_CREATE"), _DC_MESSAGE),
    st.tuples(st.just("MESSAGE_CREATE"), _DC_MESSAGE),
    st.tuples(st.just("MESSAGE_CREATE"), _DC_MESSAGE),
    st.tuples(st.just("INTERACTION_CREATE"), st.builds(
        _dc_interaction, st.integers(10**17, 2**63 - 1), st.just(3), st.sampled_from(_DC_PEOPLE[:3]), st.booleans(),
        _DC_COMPONENT_DATA, st.booleans(), _DC_MESSAGE)),
    st.tuples(st.just("INTERACTION_CREATE"), st.builds(
        _dc_interaction, st.integers(10**17, 2**63 - 1), st.sampled_from([2, 4]), st.sampled_from(_DC_PEOPLE[:3]),
        st.booleans(), _DC_COMMAND_DATA, st.just(False), st.just({}))),
    st.tuples(st.just("INTERACTION_CREATE"), st.builds(
        _dc_interaction, st.integers(10**17, 2**63 - 1), st.sampled_from([1, 5, 99]), st.sampled_from(_DC_PEOPLE[:3]),
        st.booleans(), st.dictionaries(ODD_TEXT, JUNK, max_size=2), st.just(False), st.just({}))),
    st.tuples(st.sampled_from(["TYPING_START", "A_FUTURE_EVENT", "MESSAGE_REACTION_ADD"]),
              st.dictionaries(ODD_TEXT, JUNK, max_size=3)),
)


# ---------------------------------------------------------------- generating

def generate(strategy: st.SearchStrategy[Any], count: int, base_seed: int) -> list[Any]:
    """`count` examples of `strategy`, reproducible from `base_seed` (no shrinking: they are all used)."""
    out: list[Any] = []
    round_no = 0
    while len(out) < count:
        @seed(base_seed + round_no)
        @settings(max_examples=count - len(out), deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def collect(example: Any) -> None:
            out.append(example)

        collect()
        round_no += 1
    return out[:count]


# ---------------------------------------------------------------- judging

class Watch(logging.Handler):
    """Every log record that is an error or carries a traceback: what a crash looks like in a log."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info or "Traceback (most recent call last)" in \
                record.getMessage():
            self.records.append(record)

    def take(self) -> list[str]:
        """What was seen since the last call, one line each."""
        seen = [f"{r.name}: {r.getMessage()[:200]}{_where(r)}" for r in self.records]
        self.records.clear()
        return seen


def _where(record: logging.LogRecord) -> str:
    """The exception and the line that raised it."""
    if not record.exc_info or not record.exc_info[1]:
        return ""
    exc = record.exc_info[1]
    frames = traceback.extract_tb(exc.__traceback__)
    at = f" at {frames[-1].filename.rsplit('/', 2)[-1]}:{frames[-1].lineno}" if frames else ""
    return f" [{type(exc).__name__}: {str(exc)[:150]}{at}]"


@contextlib.contextmanager
def watching() -> Any:
    """Watch every logger (root, and libraries that do not propagate) while the block runs."""
    watch = Watch()
    root = logging.getLogger()
    level = root.level
    root.addHandler(watch)
    root.setLevel(min(level, logging.INFO) or logging.INFO)
    try:
        yield watch
    finally:
        root.removeHandler(watch)
        root.setLevel(level)


def judge_texts(texts: list[str], tally: Tally, what: object) -> None:
    """Anything sent to a person: no traceback, no failure."""
    for text in texts:
        if "Traceback" in text or 'File "' in text:
            tally.fail("tracebacks", (text[:200], what))
        if WENT_WRONG in text:
            tally.fail("crashes", (text[:200], what))


@dataclass
class Platform:
    """One platform's bot serving against its fake, and how to feed it."""

    name: str
    send: Callable[[Any], Any]  # async: deliver one generated payload
    sentinel: Callable[[], Any]  # async: an owner asks "/tasks"; returns a check() that is true once answered
    sent_texts: Callable[[], list[str]]  # everything sent to people so far
    drain: Callable[[], Any]  # async: wait until every queued delivery is answered


async def fuzz_round(platform: Platform, payloads: list[Any], tally: Tally, watch: Watch) -> None:
    """Feed `payloads`, then the sentinel; count what went wrong."""
    before = len(platform.sent_texts())
    started = time.monotonic()
    limit = HANG_SECONDS * max(1.0, len(payloads) / 10)
    answered = False
    try:
        async with asyncio.timeout(limit * 3):
            for payload in payloads:
                await platform.send(payload)
            check = await platform.sentinel()
            while not check():
                if time.monotonic() - started > limit * 3:
                    raise TimeoutError
                await asyncio.sleep(0.01)
            answered = True
            await platform.drain()
    except TimeoutError:
        tally.fail("hangs" if answered else "crashes", ("no answer to the sentinel" if not answered else "drain",
                                                        payloads))
    finally:
        tally.inputs += len(payloads)
    if time.monotonic() - started > limit:
        tally.fail("hangs", (round(time.monotonic() - started, 1), payloads))
    judge_texts(platform.sent_texts()[before:], tally, payloads)
    for seen in watch.take():
        tally.fail("crashes", (seen, payloads))


# ---------------------------------------------------------------- the three platforms


@contextlib.asynccontextmanager
async def telegram_platform(rt: Runtime) -> AsyncIterator[Platform]:
    """The real python-telegram-bot, long polling the fake Bot API."""
    fake = await ft.FakeTelegram().start()
    admit(rt, "telegram", *TG_OWNERS)
    bot = TelegramBot(Inbox(rt.sessions, rt.assistant), ft.TOKEN, fake.base_url, poll_timeout=1)
    ids = iter(range(10**6, 10**9))

    async def send(update: dict[str, Any]) -> None:
        fake.push({**update, "update_id": next(ids)})

    async def sentinel() -> Callable[[], bool]:
        before = len(fake.to(TG_OWNERS[0]))
        fake.user_sends(TG_OWNERS[0], SENTINEL)
        fake.updates[-1]["update_id"] = next(ids)
        return lambda: len(fake.to(TG_OWNERS[0])) > before and not fake.updates

    async with serving(bot, lambda: fake.wait_for(lambda: fake.called("setMyCommands"))):
        yield Platform("telegram", send, sentinel, lambda: [s.text for s in fake.sent], bot.conversations.drain)
    await fake.stop()


@contextlib.asynccontextmanager
async def slack_platform(rt: Runtime) -> AsyncIterator[Platform]:
    """The real slack-bolt app over Socket Mode against the fake Slack."""
    fake = await fs.FakeSlack().start()
    admit(rt, "slack", *(f"{fs.TEAM}/{u}" for u in SLACK_OWNERS))
    bot = SlackBot(Inbox(rt.sessions, rt.assistant), fs.BOT_TOKEN, app_token=fs.APP_TOKEN, base_url=fake.base_url)
    respond = f"http://127.0.0.1:{fake.port}/respond/fuzz"

    def fill(value: Any) -> Any:  # the placeholder for a response_url that reaches the fake
        if value == "RESPOND":
            return respond
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    async def send(item: tuple[str, Any]) -> None:
        kind, payload = item
        await fake.connected()  # after a "disconnect" envelope the app opens a new connection
        await fake.envelope(kind, fill(payload))

    async def sentinel() -> Callable[[], bool]:
        before = len(fake.to(f"D{SLACK_OWNERS[0]}"))
        await fake.connected()
        envelope = await fake.envelope("events_api", fake.dm(SLACK_OWNERS[0], SENTINEL))
        return lambda: len(fake.to(f"D{SLACK_OWNERS[0]}")) > before and envelope in fake.acks

    async with serving(bot, fake.connected):
        yield Platform("slack", send, sentinel, lambda: [p.text for p in fake.posted], bot.conversations.drain)
    await fake.stop()


@contextlib.asynccontextmanager
async def discord_platform(rt: Runtime) -> AsyncIterator[Platform]:
    """The real discord.py on the fake gateway and REST API."""
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    fake = await fd.FakeDiscord().start()
    admit(rt, "discord", *DISCORD_OWNERS)
    bot = DiscordBot(Inbox(rt.sessions, rt.assistant), fd.TOKEN, api_base=fake.api_base, gateway=fake.gateway)
    dm = 7000 + DISCORD_OWNERS[0]

    async def send(item: tuple[str, Any]) -> None:
        event, data = item
        await fake.dispatch(event, data)

    async def sentinel() -> Callable[[], bool]:
        before = len(fake.to(dm))
        await fake.dispatch("MESSAGE_CREATE", fake.dm(DISCORD_OWNERS[0], SENTINEL))
        return lambda: len(fake.to(dm)) > before

    try:
        async with serving(bot, fake.connected):
            yield Platform("discord", send, sentinel, lambda: [s.content for s in fake.sent],
                           bot.conversations.drain)
    finally:
        await fake.stop()
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


PLATFORMS = {"telegram": (telegram_platform, TELEGRAM_UPDATE), "slack": (slack_platform, SLACK_ENVELOPE),
             "discord": (discord_platform, DISCORD_DISPATCH)}


async def fuzz_platform(rt: Runtime, name: str, count: int, base_seed: int, per_round: int = 10) -> Tally:
    """Generate `count` payloads for platform `name` and feed them in rounds of `per_round`."""
    serve, strategy = PLATFORMS[name]
    payloads = generate(strategy, count, base_seed)
    tally = Tally()
    with watching() as watch:
        async with serve(rt) as platform:
            watch.take()  # start-up chatter is not the fuzz's
            for i in range(0, len(payloads), per_round):
                await fuzz_round(platform, payloads[i:i + per_round], tally, watch)
    return tally


def dumps(payload: Any) -> str:
    """A payload as one line, to reproduce a failure."""
    return json.dumps(payload, ensure_ascii=True, default=str)[:400]
