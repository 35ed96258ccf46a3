"""A fake OpenAI-compatible `POST /v1/embeddings` on 127.0.0.1, so the real `openai` SDK runs.

Vectors are the hashing embedder's (words that overlap give close vectors), cut or padded to
the requested `dimensions`; a test can make the endpoint fail with a status and OpenAI's error body.

    async with FakeEmbeddings() as fake:
        embedder = OpenAIEmbedder("text-embedding-3-small", "key", fake.url, dimensions=256)
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from core.embeddings import HashEmbedder
from tests.fakes.server import close, serve

NATIVE_DIM = 512  # what the fake model returns when no `dimensions` is asked for


class FakeEmbeddings:
    """The embeddings endpoint, with every request body it received."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_with: int | None = None  # answer every request with this HTTP status
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The base URL the SDK takes (`…/v1`)."""
        return f"http://127.0.0.1:{self.port}/v1"

    async def __aenter__(self) -> FakeEmbeddings:
        app = web.Application()
        app.router.add_post("/v1/embeddings", self._embeddings)
        self._runner, self.port = await serve(app)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await close(self._runner)

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        if self.fail_with is not None:
            return web.json_response({"error": {"message": "The server had an error", "type": "server_error",
                                                "param": None, "code": None}}, status=self.fail_with)
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return web.json_response({"error": {"message": "No API key", "type": "invalid_request_error",
                                                "param": None, "code": "invalid_api_key"}}, status=401)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dim = int(body.get("dimensions") or NATIVE_DIM)
        hasher = HashEmbedder(dim)
        data = []
        for i, text in enumerate(texts):
            vec = [v * 3.0 for v in hasher.embed_one(text)]  # not unit length: the client normalises
            if not any(vec):
                vec[0] = 1.0
            data.append({"object": "embedding", "index": i, "embedding": vec})
        data.reverse()  # the API does not promise order; `index` does
        tokens = sum(math.ceil(len(t) / 4) for t in texts)
        return web.json_response({"object": "list", "data": data, "model": body["model"],
                                  "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
