"""A fake Discord on 127.0.0.1: REST under /api/v10 and a gateway websocket, so discord.py runs unchanged.

The gateway says HELLO, takes IDENTIFY, sends READY, answers heartbeats and dispatches what a test
sends (MESSAGE_CREATE, INTERACTION_CREATE). REST keeps the messages the bot sent and enforces the
2000-character limit; `fail_next` answers 429 with `retry_after` as Discord does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.server import close, serve

TOKEN = "fake-discord-token"
NONCE_SECONDS = 300.0  # how long Discord keeps a nonce for enforce_nonce ("the past few minutes")
BOT_ID, APP_ID = 4000, 4001
BOT = {"id": str(BOT_ID), "username": "Pixie", "discriminator": "0", "global_name": "Pixie", "avatar": None,
       "bot": True, "flags": 0}


def user(uid: int, name: str = "ada") -> dict[str, Any]:
    """A Discord user object."""
    return {"id": str(uid), "username": name, "discriminator": "0", "global_name": name.title(), "avatar": None}


@dataclass
class Sent:
    """A message the bot sent."""

    id: int
    channel_id: int
    content: str
    components: list[dict[str, Any]]
    nonce: str | None = None
    flags: int = 0  # 64: ephemeral (an interaction follow-up only its user sees)
    at: float = field(default_factory=time.monotonic)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """The buttons under the message."""
        return [c for row in self.components for c in row.get("components", [])]


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py wants exactly "application/json" (aiohttp's json_response adds a charset).
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


@dataclass
class FakeDiscord:
    """The fake server plus what a test needs: dispatch events, read what the bot sent."""

    port: int = 0
    sent: list[Sent] = field(default_factory=list)
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    fail: dict[str, list[int]] = field(default_factory=dict)
    identified: int = 0
    # While `hold` is set, a message POST is taken (stored) but never answered: a crash test kills the bot then.
    hold: bool = False
    held: asyncio.Event = field(default_factory=asyncio.Event)
    _tokens: dict[str, int] = field(default_factory=dict)  # interaction token → its channel (for follow-ups)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(10**17))
    _seq: itertools.count = field(default_factory=lambda: itertools.count(2))
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    @property
    def api_base(self) -> str:
        """What discord.http.Route.BASE becomes."""
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway(self) -> str:
        """What DiscordWebSocket.DEFAULT_GATEWAY becomes."""
        return f"ws://127.0.0.1:{self.port}/gw"

    async def start(self) -> FakeDiscord:
        """Serve on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_get("/gw", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self._runner, self.port = await serve(app, self.port)
        return self

    async def stop(self) -> None:
        """Close the gateway and stop serving."""
        await close(self._runner, self._sockets)

    def next_id(self) -> int:
        """A fresh snowflake."""
        return next(self._ids)

    # ------------------------------------------------------------ what users do

    def dm(self, uid: int, text: str, message_id: int | None = None, guild: bool = False,
           mention: bool = False) -> dict[str, Any]:
        """A MESSAGE_CREATE payload: a DM to the bot (or a message in a server channel)."""
        content = f"<@{BOT_ID}> {text}" if mention else text
        data: dict[str, Any] = {
            "id": str(message_id or self.next_id()), "channel_id": str(7000 + uid if not guild else 8000),
            "author": user(uid), "content": content, "timestamp": "2026-01-13T09:00:00.000000+00:00",
            "edited_timestamp": None, "tts": False, "mention_everyone": False,
            "mentions": [BOT] if mention else [], "mention_roles": [], "attachments": [], "embeds": [],
            "pinned": False, "type": 0, "flags": 0}
        if guild:
            data["guild_id"] = "9000"
            data["member"] = {"roles": [], "joined_at": "2025-01-01T00:00:00+00:00", "deaf": False, "mute": False}
        return data

    def press(self, uid: int, message: Sent, button: dict[str, Any]) -> dict[str, Any]:
        """An INTERACTION_CREATE payload: the user pressed `button` under `message` in their DMs."""
        return {"id": str(self.next_id()), "application_id": str(APP_ID), "type": 3, "token": f"tok{self.next_id()}",
                "version": 1, "channel_id": str(message.channel_id),
                "channel": {"id": str(message.channel_id), "type": 1},
                "user": user(uid), "locale": "en-US", "app_permissions": "0", "entitlements": [],
                "authorizing_integration_owners": {}, "context": 1, "attachment_size_limit": 10485760,
                "data": {"custom_id": button["custom_id"], "component_type": 2},
                "message": self._message_payload(message)}

    def slash(self, uid: int, name: str, options: dict[str, str] | None = None, guild: bool = False) -> dict[str, Any]:
        """An INTERACTION_CREATE payload: a slash command in the user's DMs (or in a server channel)."""
        cmd = next(c for c in self.commands if c["name"] == name)
        token = f"tok{self.next_id()}"
        channel = 8000 if guild else 7000 + uid
        self._tokens[token] = channel
        who: dict[str, Any] = {"user": user(uid)}
        if guild:  # in a server the user comes as a member
            who = {"guild_id": "9000", "member": {"user": user(uid), "roles": [], "deaf": False, "mute": False,
                                                  "joined_at": "2025-01-01T00:00:00+00:00", "permissions": "0",
                                                  "flags": 0}}
        return {"id": str(self.next_id()), "application_id": str(APP_ID), "type": 2, "token": token,
                "version": 1, "channel_id": str(channel), "channel": {"id": str(channel), "type": 1} if not guild else
                {"id": str(channel), "type": 0, "name": "general", "guild_id": "9000", "position": 0,
                 "permission_overwrites": [], "nsfw": False, "parent_id": None},
                **who, "locale": "en-US", "app_permissions": "0", "entitlements": [],
                "authorizing_integration_owners": {}, "context": 0 if guild else 1,
                "attachment_size_limit": 10485760,
                "data": {"id": cmd["id"], "name": name, "type": 1,
                         "options": [{"name": k, "type": 3, "value": v} for k, v in (options or {}).items()]}}

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway DISPATCH to the connected bot."""
        await self._sockets[-1].send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    def fail_next(self, route: str, status: int = 429) -> None:
        """Make the next request whose path ends with `route` fail (429 with retry_after 0.3 s)."""
        self.fail.setdefault(route, []).append(status)

    def to(self, channel_id: int) -> list[Sent]:
        """Messages the bot sent in one channel."""
        return [s for s in self.sent if s.channel_id == channel_id]

    def called(self, method: str, suffix: str) -> list[Any]:
        """Bodies of REST calls whose path ends with `suffix`."""
        return [b for m, p, b in self.calls if m == method and p.endswith(suffix)]

    async def connected(self, within: float = 10.0) -> None:
        """Wait until the bot has identified on the gateway."""
        await self.wait_for(lambda: self.identified and self._sockets, within)

    async def wait_for(self, check: Any, within: float = 10.0) -> None:
        """Wait until `check()` is true."""
        deadline = time.monotonic() + within
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; sent so far: {[s.content for s in self.sent]}")
            await asyncio.sleep(0.01)

    # ------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            payload = json.loads(msg.data)
            if payload["op"] == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif payload["op"] == 2:
                self.identified += 1
                await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": 1, "d": {
                    "v": 10, "user": BOT, "guilds": [], "session_id": "sess", "private_channels": [],
                    "resume_gateway_url": self.gateway, "application": {"id": str(APP_ID), "flags": 0}}}))
        self._sockets.remove(ws)
        return ws

    # ------------------------------------------------------------ REST

    def _message_payload(self, s: Sent) -> dict[str, Any]:
        return {"id": str(s.id), "channel_id": str(s.channel_id), "author": BOT, "content": s.content,
                "timestamp": "2026-01-13T09:00:00.000000+00:00", "edited_timestamp": None, "tts": False,
                "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
                "pinned": False, "type": 0, "flags": 0, "components": s.components,
                **({"nonce": s.nonce} if s.nonce else {})}

    async def _rest(self, request: web.Request) -> web.Response:
        path, method = request.match_info["path"], request.method
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw and request.content_type == "application/json" else raw
        self.calls.append((method, path, body))
        for route, statuses in self.fail.items():
            if path.endswith(route) and statuses:
                status = statuses.pop(0)
                return _json({"message": "You are being rate limited.", "retry_after": 0.3, "global": False,
                              "code": 0}, status=status, headers={"Retry-After": "1", "X-RateLimit-Scope": "user",
                                                                  "Via": "1.1 google"})  # discord.py checks it
        if path == "users/@me":
            return _json(BOT)
        if path == "oauth2/applications/@me":
            return _json({"id": str(APP_ID), "name": "Pixie", "icon": None, "description": "", "bot_public": False,
                          "bot_require_code_grant": False, "verify_key": "00", "flags": 0, "summary": "",
                          "owner": user(1), "team": None, "rpc_origins": []})
        if path.startswith(f"applications/{APP_ID}/") and path.endswith("commands") and method == "PUT":
            self.commands = [{**c, "id": str(self.next_id()), "application_id": str(APP_ID), "version": "1",
                              "default_member_permissions": None, "type": c.get("type", 1)} for c in body]
            return _json(self.commands)
        if path == "users/@me/channels":
            uid = int(body["recipient_id"])
            return _json({"id": str(7000 + uid), "type": 1, "recipients": [user(uid)], "last_message_id": None})
        if path.startswith("users/"):
            return _json(user(int(path.split("/")[1])))
        if path.endswith("/typing"):
            return web.Response(status=204)
        if path.startswith("interactions/"):
            return _json({"interaction": {"id": path.split("/")[1], "type": 2, "response_message_loading": True}})
        if path.startswith("channels/") and path.endswith("/messages") and method == "POST":
            posted = self._send(int(path.split("/")[1]), body)
            if isinstance(posted, Sent) and self.hold:  # taken; the answer never leaves (the bot is killed)
                self.held.set()
                await asyncio.Event().wait()
            return posted if isinstance(posted, web.Response) else _json(self._message_payload(posted))
        if path.startswith("webhooks/") and method == "POST":  # an interaction follow-up
            posted = self._send(self._tokens.get(path.split("/")[2], 0), body)
            return posted if isinstance(posted, web.Response) else _json(self._message_payload(posted))
        if path.startswith("channels/") and "/messages/" in path and method == "PATCH":
            mid = int(path.rsplit("/", 1)[1])
            for s in self.sent:
                if s.id == mid:
                    s.content = body.get("content", s.content)
                    s.components = body.get("components", s.components)
                    return _json(self._message_payload(s))
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        return _json({"message": f"fake: no route {method} {path}", "code": 0}, status=404)

    def _send(self, channel: int, body: dict[str, Any]) -> web.Response | Sent:
        content = body.get("content") or ""
        if len(content) > 2000:
            return _json({"message": "Invalid Form Body", "code": 50035,
                          "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}}}, status=400)
        nonce = body.get("nonce")
        if nonce and body.get("enforce_nonce"):
            for s in self.sent:  # Discord keeps an author's nonces a few minutes, whatever the channel
                if s.nonce == nonce and time.monotonic() - s.at < NONCE_SECONDS:
                    return _json(self._message_payload(s))  # Discord returns the first message again
        sent = Sent(self.next_id(), channel, content, body.get("components") or [], nonce, int(body.get("flags") or 0))
        self.sent.append(sent)
        return sent
