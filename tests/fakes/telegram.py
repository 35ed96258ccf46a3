"""A fake Telegram Bot API on 127.0.0.1 speaking the real HTTP/JSON, so python-telegram-bot runs as is.

It enforces what the real API enforces and tests care about: the 4096 UTF-16 limit, HTML that
must parse, 429 with `parameters.retry_after`, and `getUpdates` offsets that confirm updates.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server import close, serve

TOKEN = "123456:TEST-token"
BOT = {"id": 999000, "is_bot": True, "first_name": "Pixie", "username": "PixieTestBot",
       "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "a", "tg-spoiler", "blockquote"}


def html_error(text: str) -> str | None:
    """Why Telegram would reject `text` as parse_mode=HTML, or None when it parses."""
    stack: list[str] = []
    for m in re.finditer(r"<(/?)([a-zA-Z-]+)[^>]*>|<|&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);|&", text):
        token = m.group(0)
        if token == "<":
            return "Bad Request: can't parse entities: unsupported start tag"
        if token == "&":
            return "Bad Request: can't parse entities: character entity expected"
        if token.startswith("&"):
            if m.group(3) and not m.group(3).startswith("#") and m.group(3) not in ("lt", "gt", "amp", "quot"):
                return "Bad Request: can't parse entities: unsupported entity"
            continue
        closing, tag = m.group(1), m.group(2).lower()
        if tag not in TAGS:
            return f"Bad Request: can't parse entities: unsupported start tag \"{tag}\""
        if closing:
            if not stack or stack.pop() != tag:
                return "Bad Request: can't parse entities: unmatched end tag"
        else:
            stack.append(tag)
    return "Bad Request: can't parse entities: unclosed tag" if stack else None


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Sent:
    """A message the bot sent."""

    chat_id: int
    text: str
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    message_id: int


@dataclass
class FakeTelegram:
    """The fake server plus what a test needs: push updates, read what the bot called."""

    token: str = TOKEN
    port: int = 0
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    webhook: dict[str, Any] | None = None
    listeners: list[Any] = field(default_factory=list)  # called with each Sent (benchmarks time replies)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1000))
    _msg_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _new: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    # While `hold` is set, sendMessage is taken but never answered (a crash test kills the bot then).
    hold: bool = False
    held: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def base_url(self) -> str:
        """What `TELEGRAM_BASE_URL` would be."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> FakeTelegram:
        """Serve on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner, self.port = await serve(app, self.port)
        return self

    async def stop(self) -> None:
        """Stop serving."""
        self._new.set()
        await close(self._runner)

    # ------------------------------------------------------------ what users do

    def user_sends(self, user_id: int, text: str, chat_type: str = "private", chat_id: int | None = None,
                   name: str = "Ada") -> dict[str, Any]:
        """Queue a message update from a user; returns the update."""
        chat = {"id": chat_id or user_id, "type": chat_type}
        chat.update({"first_name": name} if chat_type == "private" else {"title": "Team"})
        update = {"update_id": next(self._ids), "message": {
            "message_id": next(self._msg_ids), "date": int(time.time()), "chat": chat, "text": text,
            "from": {"id": user_id, "is_bot": False, "first_name": name}}}
        self.push(update)
        return update

    def user_presses(self, user_id: int, sent: Sent, data: str) -> dict[str, Any]:
        """Queue a callback query: the user pressed a button under a message the bot sent."""
        update = {"update_id": next(self._ids), "callback_query": {
            "id": str(next(self._msg_ids) * 7919), "chat_instance": "ci", "data": data,
            "from": {"id": user_id, "is_bot": False, "first_name": "Ada"},
            "message": {"message_id": sent.message_id, "date": int(time.time()), "text": sent.text,
                        "chat": {"id": sent.chat_id, "type": "private", "first_name": "Ada"}, "from": BOT}}}
        self.push(update)
        return update

    def push(self, update: dict[str, Any]) -> None:
        """Queue an update as is (push the same one twice to deliver it twice)."""
        self.updates.append(update)
        self._new.set()

    def fail_next(self, method: str, status: int = 429, retry_after: int = 1, description: str = "") -> None:
        """Make the next call of `method` fail like Telegram does."""
        body: dict[str, Any] = {"ok": False, "error_code": status,
                                "description": description or f"Too Many Requests: retry after {retry_after}"}
        if status == 429:
            body["parameters"] = {"retry_after": retry_after}
        self.fail.setdefault(method, []).append((status, body))

    def to(self, chat_id: int) -> list[Sent]:
        """Messages the bot sent to one chat."""
        return [s for s in self.sent if s.chat_id == chat_id]

    def called(self, method: str) -> list[dict[str, Any]]:
        """Parameters of every call of `method`."""
        return [p for m, p in self.calls if m == method]

    async def wait_for(self, check: Any, within: float = 10.0) -> None:
        """Wait until `check()` is true (the bot works in the background)."""
        deadline = time.monotonic() + within
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; sent so far: {[s.text for s in self.sent]}")
            await asyncio.sleep(0.01)

    # ------------------------------------------------------------ the API

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()
        out: dict[str, Any] = {}
        for k, v in form.items():
            out[k] = json.loads(v) if k in ("reply_markup", "commands", "allowed_updates") and isinstance(v, str) \
                else v
        return out

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        try:
            params = await self._params(request)
        except ConnectionResetError:  # the client gave up (a cancelled long poll at shutdown)
            return web.Response(status=499)
        self.calls.append((method, params))
        if self.fail.get(method):
            status, body = self.fail[method].pop(0)
            return web.json_response(body, status=status)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return web.json_response({"ok": True, "result": True})
        result = await handler(params)
        if isinstance(result, web.Response):
            return result
        return web.json_response({"ok": True, "result": result})

    async def _m_getMe(self, p: dict[str, Any]) -> Any:
        return BOT

    async def _m_setWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = p
        return True

    async def _m_deleteWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = None
        return True

    async def _m_getUpdates(self, p: dict[str, Any]) -> Any:
        offset = int(p["offset"]) if p.get("offset") not in (None, "") else None
        if offset is not None:  # asking with offset confirms every update before it
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates:
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), timeout=min(float(p.get("timeout") or 0), 2.0))
            except TimeoutError:
                pass
        return list(self.updates[:100])

    async def _m_sendMessage(self, p: dict[str, Any]) -> Any:
        if self.hold:
            self.held.set()
            await asyncio.Event().wait()  # until the client goes away
        text = str(p.get("text", ""))
        if not text.strip():
            return _bad("Bad Request: message text is empty")
        if p.get("parse_mode") == "HTML":
            error = html_error(text)
            if error:
                return _bad(error)
            shown = re.sub(r"<[^>]+>", "", text).replace("&lt;", "<").replace("&gt;", ">") \
                .replace("&quot;", '"').replace("&amp;", "&")
        else:
            shown = text
        if utf16(shown) > 4096:
            return _bad("Bad Request: message is too long")
        sent = Sent(int(p["chat_id"]), shown, p.get("parse_mode"), p.get("reply_markup"), next(self._msg_ids))
        self.sent.append(sent)
        for listener in self.listeners:
            listener(sent)
        return {"message_id": sent.message_id, "date": int(time.time()), "text": shown, "from": BOT,
                "chat": {"id": sent.chat_id, "type": "private", "first_name": "Ada"}}

    async def _m_editMessageReplyMarkup(self, p: dict[str, Any]) -> Any:
        for s in self.sent:
            if s.message_id == int(p["message_id"]) and s.chat_id == int(p["chat_id"]):
                if not s.reply_markup and not p.get("reply_markup"):
                    return _bad("Bad Request: message is not modified")
                s.reply_markup = p.get("reply_markup")
                return {"message_id": s.message_id, "date": int(time.time()), "text": s.text, "from": BOT,
                        "chat": {"id": s.chat_id, "type": "private", "first_name": "Ada"}}
        return _bad("Bad Request: message to edit not found")


def _bad(description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": 400, "description": description}, status=400)
