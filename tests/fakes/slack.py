"""A fake Slack on 127.0.0.1: the Web API (`POST /api/{method}`), a Socket Mode websocket and response_urls.

The real slack-bolt / slack_sdk code runs against it. It enforces Block Kit's limits that matter
here (a section's text ≤ 3000 characters, ≤ 50 blocks) and answers 429 with `Retry-After`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from slack_sdk.signature import SignatureVerifier

from tests.fakes.server import close, serve

BOT_TOKEN, APP_TOKEN, SIGNING_SECRET = "xoxb-test-token", "xapp-test-token", "test-signing-secret"
TEAM, BOT_USER = "T0TEAM", "UPIXIEBOT"


@dataclass
class Posted:
    """A message the app posted (or a response_url answer)."""

    channel: str
    text: str
    blocks: list[dict[str, Any]]
    ts: str
    thread_ts: str | None = None

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """The buttons under the message."""
        return [e for b in self.blocks if b.get("type") == "actions" for e in b.get("elements", [])]


@dataclass
class FakeSlack:
    """The fake server plus what a test needs: send events, read what the app called."""

    port: int = 0
    posted: list[Posted] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    acks: list[str] = field(default_factory=list)
    fail: dict[str, list[int]] = field(default_factory=dict)
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    # Events API envelopes not yet acknowledged, and the socket each went out on: Slack delivers an event
    # again (retry_attempt + 1) on the next connection when the one it went out on closed without an ack.
    _unacked: dict[str, tuple[dict[str, Any], web.WebSocketResponse]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        """The Web API base, as AsyncWebClient takes it (the trailing slash matters)."""
        return f"http://127.0.0.1:{self.port}/api/"

    async def start(self) -> FakeSlack:
        """Serve on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/link", self._socket)
        app.router.add_post("/respond/{id}", self._respond)
        self._runner, self.port = await serve(app, self.port)
        return self

    async def stop(self) -> None:
        """Close the sockets and stop serving."""
        await close(self._runner, self._sockets)

    # ------------------------------------------------------------ payloads a test sends

    def dm(self, user: str, text: str, event_id: str | None = None, channel: str | None = None) -> dict[str, Any]:
        """An Events API body: a user's DM to the app (`message.im`)."""
        ts = f"{time.time():.6f}"
        return {"token": "x", "team_id": TEAM, "api_app_id": "A0APP", "type": "event_callback",
                "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}", "event_time": int(time.time()),
                "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
                "event": {"type": "message", "channel_type": "im", "user": user, "text": text, "ts": ts,
                          "event_ts": ts, "channel": channel or f"D{user}", "team": TEAM}}

    def mention(self, user: str, text: str, channel: str = "C0GENERAL") -> dict[str, Any]:
        """An `app_mention` in a channel."""
        body = self.dm(user, f"<@{BOT_USER}> {text}", channel=channel)
        body["event"].update(type="app_mention")
        body["event"].pop("channel_type")
        return body

    def command(self, user: str, text: str, channel: str | None = None) -> dict[str, Any]:
        """A `/pixie` slash command payload."""
        return {"token": "x", "team_id": TEAM, "team_domain": "t", "channel_id": channel or f"D{user}",
                "channel_name": "directmessage", "user_id": user, "user_name": user.lower(), "command": "/pixie",
                "text": text, "api_app_id": "A0APP", "trigger_id": f"{uuid.uuid4().int % 10**12}.1.x",
                "response_url": f"http://127.0.0.1:{self.port}/respond/{uuid.uuid4().hex[:8]}"}

    def press(self, user: str, message: Posted, button: dict[str, Any]) -> dict[str, Any]:
        """A `block_actions` payload: the user pressed `button` under `message`."""
        return {"type": "block_actions", "team": {"id": TEAM, "domain": "t"}, "user": {"id": user, "team_id": TEAM},
                "api_app_id": "A0APP", "token": "x", "trigger_id": f"{uuid.uuid4().int % 10**12}.1.y",
                "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel},
                "channel": {"id": message.channel}, "response_url": f"http://127.0.0.1:{self.port}/respond/b",
                "message": {"type": "message", "ts": message.ts, "text": message.text, "blocks": message.blocks},
                "actions": [{"type": "button", "action_id": button["action_id"], "block_id": "pixie_buttons",
                             "value": button["value"], "text": button["text"],
                             "action_ts": f"{time.time():.6f}"}]}

    # ------------------------------------------------------------ socket mode

    def _open(self) -> list[web.WebSocketResponse]:
        return [ws for ws in self._sockets if not ws.closed]

    async def connected(self, within: float = 10.0) -> None:
        """Wait until the app has an open Socket Mode connection."""
        await self.wait_for(self._open, within)

    async def envelope(self, kind: str, payload: dict[str, Any], retry: int = 0) -> str:
        """Send an envelope over Socket Mode (`events_api`, `slash_commands`, `interactive`)."""
        envelope_id = str(uuid.uuid4())
        body = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry, "retry_reason": "timeout" if retry else ""}
        await self._deliver(body, (self._open() or self._sockets)[-1])
        return envelope_id

    async def _deliver(self, body: dict[str, Any], ws: web.WebSocketResponse) -> None:
        if body["type"] == "events_api":  # Slack retries events; commands and presses it does not
            self._unacked[body["envelope_id"]] = (body, ws)
        with contextlib.suppress(ConnectionError, RuntimeError):  # closing: delivered again on the next one
            await ws.send_str(json.dumps(body))

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0APP"}}))
        for body, old in list(self._unacked.values()):  # what a closed connection never acknowledged
            if old is not ws and (old.closed or old not in self._sockets):
                retry = {**body, "retry_attempt": body["retry_attempt"] + 1, "retry_reason": "timeout"}
                await self._deliver(retry, ws)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                envelope_id = json.loads(msg.data).get("envelope_id")
                self._unacked.pop(envelope_id, None)
                self.acks.append(envelope_id)
        self._sockets.remove(ws)
        return ws

    # ------------------------------------------------------------ the Web API

    def fail_next(self, method: str, status: int = 429) -> None:
        """Make the next call of `method` fail (429 carries Retry-After: 1)."""
        self.fail.setdefault(method, []).append(status)

    def called(self, method: str) -> list[dict[str, Any]]:
        """Parameters of every call of `method`."""
        return [p for m, p in self.calls if m == method]

    def to(self, channel: str) -> list[Posted]:
        """Messages posted in one channel (a DM channel, or a response_url id)."""
        return [p for p in self.posted if p.channel == channel]

    async def wait_for(self, check: Any, within: float = 10.0) -> None:
        """Wait until `check()` is true."""
        deadline = time.monotonic() + within
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; posted so far: {[p.text for p in self.posted]}")
            await asyncio.sleep(0.01)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        out: dict[str, Any] = dict(await request.post())
        for key in ("blocks", "attachments"):
            if isinstance(out.get(key), str):
                out[key] = json.loads(out[key])
        return out

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append((method, params))
        if self.fail.get(method):
            status = self.fail[method].pop(0)
            return web.json_response({"ok": False, "error": "ratelimited" if status == 429 else "fatal_error"},
                                     status=status, headers={"Retry-After": "1"} if status == 429 else {})
        token = request.headers.get("Authorization", "").removeprefix("Bearer ") or params.get("token")
        wanted = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != wanted:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if method == "auth.test":
            return web.json_response({"ok": True, "url": "https://t.slack.com/", "team": "Team", "user": "pixie",
                                      "team_id": TEAM, "user_id": BOT_USER, "bot_id": "B0PIXIE"})
        if method == "apps.connections.open":
            return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"})
        if method in ("chat.postMessage", "chat.update"):
            return self._post(method, params)
        return web.json_response({"ok": True})

    def _post(self, method: str, p: dict[str, Any]) -> web.Response:
        blocks = p.get("blocks") or []
        if len(blocks) > 50 or any(len((b.get("text") or {}).get("text", "")) > 3000 for b in blocks):
            return web.json_response({"ok": False, "error": "invalid_blocks"})
        if not p.get("text") and not blocks:
            return web.json_response({"ok": False, "error": "no_text"})
        if method == "chat.update":
            for m in self.posted:
                if m.ts == p.get("ts"):
                    m.text, m.blocks = p.get("text", ""), blocks
            return web.json_response({"ok": True, "channel": p["channel"], "ts": p["ts"]})
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        self.posted.append(Posted(str(p["channel"]), str(p.get("text", "")), blocks, ts, p.get("thread_ts")))
        return web.json_response({"ok": True, "channel": p["channel"], "ts": ts, "message": {"text": p.get("text")}})

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.posted.append(Posted(f"respond:{request.match_info['id']}", body.get("text", ""),
                                  body.get("blocks") or [], f"{time.time():.6f}"))
        return web.Response(text="ok")


def signed_headers(body: str, secret: str = SIGNING_SECRET, timestamp: int | None = None,
                   content_type: str = "application/json") -> dict[str, str]:
    """Headers Slack would send with `body`, signed with `secret` at `timestamp` (default: now)."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"x-slack-request-timestamp": ts, "x-slack-signature": signature, "content-type": content_type}
