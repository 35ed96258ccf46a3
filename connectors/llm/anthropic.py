"""Anthropic Messages API (`tool_use`) behind core.llm.ModelClient."""

from __future__ import annotations

from typing import Any

from connectors.llm.errors import provider_errors
from core.llm import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ModelToolCall,
    Usage,
)


def _messages(messages: tuple[ModelMessage, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":  # a tool result travels in a user turn
            out.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": m.call_id,
                                                     "content": m.text}]})
        elif m.role == "assistant" and m.calls:
            blocks: list[dict[str, Any]] = [{"type": "text", "text": m.text}] if m.text else []
            blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.args or {}} for c in m.calls]
            out.append({"role": "assistant", "content": blocks})
        else:
            out.append({"role": m.role, "content": m.text})
    return out


class AnthropicClient:
    """Claude through the official SDK; retries are the router's job, so the SDK makes none."""

    provider = "anthropic"

    def __init__(self, api_key: str | None, base_url: str | None = None) -> None:
        self._key, self._base_url = api_key or "unset", base_url
        self._client: Any = None  # made on first use: importing the SDK takes a while, most commands never need it

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """One Messages API call; the system block carries the cache breakpoint for tools + system."""
        import anthropic

        if self._client is None:
            self._client = anthropic.AsyncAnthropic(api_key=self._key, base_url=self._base_url, max_retries=0)
        system = [{"type": "text", "text": request.system, "cache_control": {"type": "ephemeral"}}]
        tools = [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in request.tools]
        extra: dict[str, Any] = {"metadata": {"user_id": request.user}} if request.user else {}
        with provider_errors(anthropic, "Anthropic"):
            msg = await self._client.messages.create(
                model=request.model, max_tokens=request.max_tokens, system=system,  # type: ignore[arg-type]
                tools=tools, messages=_messages(request.messages),  # type: ignore[arg-type]
                timeout=request.timeout, **extra)
        text = "".join(b.text for b in msg.content if b.type == "text")
        calls = tuple(ModelToolCall(b.id, b.name, dict(b.input) if isinstance(b.input, dict) else None, str(b.input))
                      for b in msg.content if b.type == "tool_use")
        u = msg.usage
        read, write = u.cache_read_input_tokens or 0, u.cache_creation_input_tokens or 0
        usage = Usage(u.input_tokens + read + write, u.output_tokens, read, write)
        return ModelResponse(text, calls, usage, msg.model, msg.stop_reason)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.close()
