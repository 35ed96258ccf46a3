"""OpenAI Chat Completions (`tools`) behind core.llm.ModelClient — also any OpenAI-compatible server."""

from __future__ import annotations

import json
from typing import Any

from connectors.llm.errors import provider_errors
from core.llm import (
    ModelError,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ModelToolCall,
    Usage,
)


def _messages(system: str, messages: tuple[ModelMessage, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "system", "content": system}]
    for m in messages:
        if m.role == "tool":
            out.append({"role": "tool", "tool_call_id": m.call_id, "content": m.text})
        elif m.role == "assistant" and m.calls:
            out.append({"role": "assistant", "content": m.text or None, "tool_calls": [
                {"id": c.id, "type": "function",
                 "function": {"name": c.name, "arguments": json.dumps(c.args or {})}} for c in m.calls]})
        else:
            out.append({"role": m.role, "content": m.text})
    return out


def _args(raw: str) -> dict[str, Any] | None:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return None  # kept as raw text: core.toolschema decides whether it can be repaired
    return value if isinstance(value, dict) else None


class OpenAIClient:
    """OpenAI, or an OpenAI-compatible server (Ollama, vLLM, LM Studio) when `compatible`.

    Compatible servers get only the widely supported parameters (`max_tokens`); OpenAI itself
    also gets `prompt_cache_key` (so turns share a cache) and `safety_identifier`.
    """

    provider = "openai"

    def __init__(self, api_key: str | None, base_url: str | None = None, compatible: bool = False) -> None:
        self._key = api_key or "not-needed"  # local servers need no key, but the SDK insists on one
        self._base_url = base_url
        self.compatible = compatible
        self._client: Any = None  # made on first use: importing the SDK takes a while

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """One chat completion with the tools offered."""
        import openai

        if self._client is None:
            self._client = openai.AsyncOpenAI(api_key=self._key, base_url=self._base_url, max_retries=0)
        tools = [{"type": "function", "function": {"name": t.name, "description": t.description,
                                                   "parameters": t.parameters}} for t in request.tools]
        kw: dict[str, Any] = {"model": request.model, "messages": _messages(request.system, request.messages),
                              "tools": tools, "timeout": request.timeout}
        if self.compatible:
            kw["max_tokens"] = request.max_tokens
        else:
            kw["max_completion_tokens"] = request.max_tokens
            if request.cache_key:
                kw["prompt_cache_key"] = request.cache_key
            if request.user:
                kw["safety_identifier"] = request.user
        with provider_errors(openai, "OpenAI"):
            resp = await self._client.chat.completions.create(**kw)
        if not resp.choices:
            raise ModelError("invalid_response", "the response had no choices")
        choice = resp.choices[0]
        calls = tuple(ModelToolCall(c.id, c.function.name, _args(c.function.arguments), c.function.arguments)
                      for c in (choice.message.tool_calls or []) if c.type == "function")
        u = resp.usage
        cached = (u.prompt_tokens_details.cached_tokens or 0) if u and u.prompt_tokens_details else 0
        usage = Usage(u.prompt_tokens, u.completion_tokens, cached, 0) if u else Usage()
        return ModelResponse(choice.message.content or "", calls, usage, resp.model, choice.finish_reason)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.close()
