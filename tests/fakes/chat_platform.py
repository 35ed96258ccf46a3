"""A fake chat platform on 127.0.0.1 for delivery tests and benchmarks, and the notifier that talks to it.

It behaves like a platform with an idempotency key (Discord's `nonce` + `enforce_nonce`): a second
POST with the same key returns the first message instead of posting again. It records every raw
POST too, so a test can tell "the worker never sent twice" apart from "the platform deduped it".
A test can make it fail (503, 429 + retry_after, 403) or hang mid-request (to SIGKILL a worker
while the platform holds its message).

Wire: `POST /api/messages` with JSON {user_id, platform, chat_id, kind, text, buttons} and header
`Idempotency-Key`; 200 {"id", "duplicate"}; errors {"error", "retry_after"?}.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from core.types import OutgoingNotification, PlatformUnavailable, Undeliverable
from tests.fakes.server import close, serve


@dataclass
class Received:
    """One message as the platform shows it to the user."""

    key: str
    user_id: str
    platform: str | None
    chat_id: str | None
    kind: str
    text: str
    buttons: list[str]
    at: float  # time.time() when it arrived


@dataclass
class FakeChatPlatform:
    """The server. Use `async with FakeChatPlatform() as fake:` and hand `fake.url` to `HttpNotifier`."""

    dedupe: bool = True
    messages: list[Received] = field(default_factory=list)
    posts: list[str] = field(default_factory=list)  # the key of every POST, duplicates included
    post_times: list[float] = field(default_factory=list)
    failures: list[tuple[int, float | None]] = field(default_factory=list)  # (status, retry_after) to answer next
    hang: str | None = None  # "before" / "after" recording: never answer (a worker is killed meanwhile)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0
    _runner: web.AppRunner | None = None
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        """Stop hanging: answer normally from now on (requests left hanging end)."""
        self.hang = None
        self._released.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def texts(self, user_id: str | None = None) -> list[str]:
        """What a user (or everyone) saw, in order."""
        return [m.text for m in self.messages if user_id is None or m.user_id == user_id]

    async def _post(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key", "")
        body: dict[str, Any] = await request.json()
        self.posts.append(key)
        self.post_times.append(time.time())
        self.arrived.set()
        if self.hang == "before":
            await self._released.wait()  # the caller was killed meanwhile: nothing was posted
            raise web.HTTPServiceUnavailable()
        if self.failures:
            status, retry_after = self.failures.pop(0)
            payload: dict[str, Any] = {"error": {403: "Forbidden: bot was blocked by the user",
                                                 429: "Too Many Requests"}.get(status, "Service Unavailable")}
            if retry_after is not None:
                payload["retry_after"] = retry_after
            return web.json_response(payload, status=status)
        existing = next((i for i, m in enumerate(self.messages) if m.key == key), None) if self.dedupe else None
        if existing is None:
            self.messages.append(Received(key, body["user_id"], body.get("platform"), body.get("chat_id"),
                                          body.get("kind", ""), body["text"], body.get("buttons", []), time.time()))
            existing = len(self.messages) - 1
        if self.hang == "after":
            await self._released.wait()  # posted, but the caller never hears back
        return web.json_response({"id": existing, "duplicate": len(self.messages) - 1 != existing})

    async def __aenter__(self) -> FakeChatPlatform:
        app = web.Application()
        app.router.add_post("/api/messages", self._post)
        self._runner, self.port = await serve(app, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._released.set()
        await close(self._runner)


class HttpNotifier:
    """A `core.types.Notifier` posting to the fake platform; the note id is the idempotency key."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._session: aiohttp.ClientSession | None = None

    async def send(self, user_id: str, note: OutgoingNotification) -> None:
        """Post one note; 429/5xx/network → PlatformUnavailable, other 4xx → Undeliverable."""
        if self._session is None:
            self._session = aiohttp.ClientSession(trust_env=False)
        body = {"user_id": user_id, "platform": note.platform, "chat_id": note.chat_id, "kind": note.kind,
                "text": note.text, "buttons": [b.label for b in note.buttons]}
        try:
            async with self._session.post(f"{self.url}/api/messages", json=body,
                                          headers={"Idempotency-Key": note.id}) as resp:
                data = await resp.json()
        except aiohttp.ClientError as exc:
            raise PlatformUnavailable(f"network: {exc}") from exc
        if resp.status == 429 or resp.status >= 500:
            raise PlatformUnavailable(f"{resp.status} {data.get('error')}", data.get("retry_after"))
        if resp.status >= 400:
            raise Undeliverable(f"{resp.status} {data.get('error')}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
