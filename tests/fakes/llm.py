"""Fake Anthropic and OpenAI APIs on 127.0.0.1, speaking their real JSON, so the real SDKs run.

`POST /v1/messages` answers like Anthropic's Messages API (`tool_use` blocks, `usage` with cache
fields, typed error bodies, 429 with `retry-after`, 529 overloaded); `POST /v1/chat/completions`
like OpenAI's Chat Completions (`tool_calls` with JSON-string arguments, `usage` with
`prompt_tokens_details.cached_tokens`). Each provider has a script: a queue of steps a test
declares (a reply, tool calls, an error, a delay), then an optional `responder(body) -> Step`
for everything after. Usage is counted with Pixie's documented approximation (4 bytes a token)
over the content a provider tokenizes — message text (+4 per message), tool definitions as
compact JSON — and the prompt cache is simulated: a static prefix (system + tools) seen before
is a cache hit (Anthropic: with `cache_control`; OpenAI: automatically, from 1,024 tokens).

    async with FakeLLM() as fake:
        fake.anthropic.script(calls(("create_task", {"title": "Buy milk"})))
        client = AnthropicClient("key", base_url=fake.anthropic_url)
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from core.context import approx_tokens
from tests.fakes.server import close, serve

_ids = itertools.count(1)


@dataclass(frozen=True)
class Step:
    """One scripted answer: tool calls and/or text, or an HTTP error; optionally after a delay."""

    calls: tuple[tuple[str, Any], ...] = ()  # (name, args dict — or a str sent verbatim as broken JSON)
    text: str = ""
    status: int = 200
    retry_after: str | None = None  # the `retry-after` header
    retry_after_ms: str | None = None  # the `retry-after-ms` header
    delay: float = 0.0  # seconds before answering (a slow provider)
    output_tokens: int = 20


def calls(*items: tuple[str, Any], delay: float = 0.0) -> Step:
    """A response with these tool calls."""
    return Step(calls=tuple(items), delay=delay)


def reply(text: str, delay: float = 0.0) -> Step:
    """A response with text only."""
    return Step(text=text, delay=delay)


def error(status: int, retry_after: float | None = None, retry_after_ms: int | None = None) -> Step:
    """An error response with the provider's error body."""
    return Step(status=status, retry_after=None if retry_after is None else str(retry_after),
                retry_after_ms=None if retry_after_ms is None else str(retry_after_ms))


def slow(seconds: float, then: Step | None = None) -> Step:
    """`then` (default: a short text reply) after `seconds`."""
    base = then or reply("OK")
    return Step(base.calls, base.text, base.status, base.retry_after, base.retry_after_ms, seconds)


@dataclass
class Seen:
    """A request the fake received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float
    handled_seconds: float = 0.0  # time spent inside the fake, scripted delay excluded
    usage: dict[str, Any] = field(default_factory=dict)  # the usage the fake reported for it


@dataclass
class Script:
    """One provider's scripted behaviour and what it received."""

    name: str
    queue: list[Step] = field(default_factory=list)
    responder: Callable[[dict[str, Any]], Step] | None = None
    requests: list[Seen] = field(default_factory=list)
    prefixes: set[str] = field(default_factory=set)  # static prefixes cached so far

    def script(self, *steps: Step) -> None:
        """Answer the next requests with these steps, in order."""
        self.queue.extend(steps)

    def next_step(self, body: dict[str, Any]) -> Step:
        if self.queue:
            return self.queue.pop(0)
        if self.responder is not None:
            return self.responder(body)
        return reply("OK")

    @property
    def calls(self) -> int:
        """How many requests arrived."""
        return len(self.requests)


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(_text_of(c.get("text") or c.get("content") or c.get("input") or "")
                       if isinstance(c, dict) else str(c) for c in content)
    return _canon(content) if content is not None else ""


def _message_tokens(messages: list[dict[str, Any]]) -> int:
    """Tokens of the messages' content, plus a few per message for the role markers."""
    return sum(approx_tokens(_text_of(m.get("content"))) + approx_tokens(_canon(m.get("tool_calls") or "")) + 4
               for m in messages)


def _tool_tokens(tools: list[dict[str, Any]]) -> int:
    """Tokens of the tool definitions themselves (name, description, schema), whatever the wrapper."""
    return approx_tokens(_canon([t.get("function", t) for t in tools]))


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the last user message in a request of either provider."""
    for m in reversed(body.get("messages", [])):
        if m.get("role") == "user":
            return _text_of(m.get("content"))
    return ""


class FakeLLM:
    """Both fake APIs on one aiohttp server."""

    def __init__(self) -> None:
        self.anthropic = Script("anthropic")
        self.openai = Script("openai")
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def anthropic_url(self) -> str:
        """Base URL for `anthropic.AsyncAnthropic(base_url=...)`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        """Base URL for `openai.AsyncOpenAI(base_url=...)`."""
        return f"http://127.0.0.1:{self.port}/v1"

    async def __aenter__(self) -> FakeLLM:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post("/v1/messages", self._anthropic)
        app.router.add_post("/v1/chat/completions", self._openai)
        self._runner, self.port = await serve(app)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await close(self._runner)

    # ------------------------------------------------------------ Anthropic

    async def _anthropic(self, request: web.Request) -> web.Response:
        t0 = time.perf_counter()
        body = await request.json()
        seen = Seen(request.path, {k.lower(): v for k, v in request.headers.items()}, body, time.time())
        self.anthropic.requests.append(seen)
        auth = seen.headers.get("x-api-key") or seen.headers.get("authorization", "").removeprefix("Bearer ")
        step = self.anthropic.next_step(body) if auth else error(401)
        if step.delay:
            await asyncio.sleep(step.delay)
        t1 = time.perf_counter()
        if step.status != 200:
            kinds = {429: "rate_limit_error", 529: "overloaded_error", 500: "api_error", 400: "invalid_request_error",
                     401: "authentication_error", 503: "api_error"}
            resp = web.json_response(
                {"type": "error", "error": {"type": kinds.get(step.status, "api_error"),
                                            "message": f"fake error {step.status}"},
                 "request_id": f"req_{next(_ids)}"},
                status=step.status, headers=_retry_headers(step))
        else:
            system = body.get("system")
            prefix = _canon(body.get("tools", [])) + _text_of(system)
            prefix_tokens = _tool_tokens(body.get("tools", [])) + approx_tokens(_text_of(system))
            cached = isinstance(system, list) and any("cache_control" in b for b in system)
            key = hashlib.sha256(prefix.encode()).hexdigest()
            read = write = 0
            if cached and prefix_tokens >= 1024:
                if key in self.anthropic.prefixes:
                    read = prefix_tokens
                else:
                    write = prefix_tokens
                    self.anthropic.prefixes.add(key)
            plain = _message_tokens(body.get("messages", [])) + (0 if (read or write) else prefix_tokens)
            content: list[dict[str, Any]] = []
            if step.text:
                content.append({"type": "text", "text": step.text})
            for name, args in step.calls:
                content.append({"type": "tool_use", "id": f"toolu_{next(_ids):08d}", "name": name,
                                "input": args if isinstance(args, dict) else {"raw": args}})
            seen.usage = {"input_tokens": plain, "cache_creation_input_tokens": write,
                          "cache_read_input_tokens": read, "output_tokens": step.output_tokens}
            resp = web.json_response({
                "id": f"msg_{next(_ids):08d}", "type": "message", "role": "assistant", "model": body.get("model"),
                "content": content, "stop_reason": "tool_use" if step.calls else "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": plain, "output_tokens": step.output_tokens,
                          "cache_creation_input_tokens": write, "cache_read_input_tokens": read,
                          "service_tier": "standard"}}, headers={"request-id": f"req_{next(_ids)}"})
        seen.handled_seconds = (time.perf_counter() - t1) + (t1 - t0 - step.delay)
        return resp

    # ------------------------------------------------------------ OpenAI

    async def _openai(self, request: web.Request) -> web.Response:
        t0 = time.perf_counter()
        body = await request.json()
        seen = Seen(request.path, {k.lower(): v for k, v in request.headers.items()}, body, time.time())
        self.openai.requests.append(seen)
        auth = seen.headers.get("authorization", "").removeprefix("Bearer ")
        step = self.openai.next_step(body) if auth else error(401)
        if step.delay:
            await asyncio.sleep(step.delay)
        t1 = time.perf_counter()
        if step.status != 200:
            codes = {429: ("rate_limit_exceeded", "requests"), 500: ("server_error", "server_error"),
                     503: ("server_error", "server_error"), 401: ("invalid_api_key", "invalid_request_error"),
                     400: ("invalid_request_error", "invalid_request_error")}
            code, kind = codes.get(step.status, ("server_error", "server_error"))
            resp = web.json_response({"error": {"message": f"fake error {step.status}", "type": kind,
                                                "param": None, "code": code}},
                                     status=step.status, headers=_retry_headers(step))
        else:
            messages = body.get("messages", [])
            system = [m for m in messages if m.get("role") in ("system", "developer")]
            others = [m for m in messages if m.get("role") not in ("system", "developer")]
            prefix_tokens = _tool_tokens(body.get("tools", [])) + _message_tokens(system)
            total = prefix_tokens + _message_tokens(others)
            key = hashlib.sha256((_canon(body.get("tools", [])) + _canon(system)).encode()).hexdigest()
            cached = 0
            if prefix_tokens >= 1024:  # OpenAI caches prefixes of 1024+ tokens, in 128-token steps
                if key in self.openai.prefixes:
                    cached = prefix_tokens // 128 * 128
                self.openai.prefixes.add(key)
            tool_calls = [{"id": f"call_{next(_ids):08d}", "type": "function",
                           "function": {"name": name,
                                        "arguments": args if isinstance(args, str) else json.dumps(args)}}
                          for name, args in step.calls]
            message: dict[str, Any] = {"role": "assistant", "content": step.text or None, "refusal": None,
                                       "annotations": []}
            if tool_calls:
                message["tool_calls"] = tool_calls
            seen.usage = {"prompt_tokens": total, "cached_tokens": cached, "completion_tokens": step.output_tokens}
            resp = web.json_response({
                "id": f"chatcmpl-{next(_ids):08d}", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model"), "system_fingerprint": "fp_fake", "service_tier": "default",
                "choices": [{"index": 0, "message": message, "logprobs": None,
                             "finish_reason": "tool_calls" if tool_calls else "stop"}],
                "usage": {"prompt_tokens": total, "completion_tokens": step.output_tokens,
                          "total_tokens": total + step.output_tokens,
                          "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
                          "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                        "accepted_prediction_tokens": 0,
                                                        "rejected_prediction_tokens": 0}}},
                headers={"x-request-id": f"req_{next(_ids)}"})
        seen.handled_seconds = (time.perf_counter() - t1) + (t1 - t0 - step.delay)
        return resp


def _retry_headers(step: Step) -> dict[str, str]:
    headers = {}
    if step.retry_after is not None:
        headers["retry-after"] = step.retry_after
    if step.retry_after_ms is not None:
        headers["retry-after-ms"] = step.retry_after_ms
    return headers


__all__ = ["FakeLLM", "Script", "Seen", "Step", "calls", "error", "last_user_text", "reply", "slow"]
