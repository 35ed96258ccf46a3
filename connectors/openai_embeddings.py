"""Embeddings from any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM) behind core.embeddings.Embedder."""

from __future__ import annotations

import openai

from core.embeddings import EmbeddingError

BATCH = 256  # inputs per request: well under every provider's limit


class OpenAIEmbedder:
    """`/v1/embeddings` through the official SDK; the model (and size, if asked) names the vectors."""

    inline = False

    def __init__(self, model: str, api_key: str | None = None, base_url: str | None = None,
                 dimensions: int | None = None, timeout: float = 30.0) -> None:
        # Ollama and vLLM accept any key; the SDK insists on one being set.
        self._client = openai.AsyncOpenAI(api_key=api_key or "unset", base_url=base_url, timeout=timeout,
                                          max_retries=2)
        self.model = model
        self.dimensions = dimensions
        self.dim = dimensions or 0  # learnt from the first answer otherwise
        self.name = f"openai:{model}" + (f":{dimensions}" if dimensions else "")

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """Vectors for `texts`, in order (L2-normalised, as cosine search expects)."""
        out: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            chunk = texts[start:start + BATCH]
            try:
                if self.dimensions:
                    resp = await self._client.embeddings.create(model=self.model, input=chunk,
                                                                dimensions=self.dimensions, encoding_format="float")
                else:
                    resp = await self._client.embeddings.create(model=self.model, input=chunk,
                                                                encoding_format="float")
            except openai.OpenAIError as exc:
                raise EmbeddingError(f"the embeddings endpoint failed: {exc}") from exc
            rows = sorted(resp.data, key=lambda d: d.index)
            if len(rows) != len(chunk):
                raise EmbeddingError(f"the embeddings endpoint returned {len(rows)} vectors for {len(chunk)} texts")
            for row in rows:
                vector = [float(v) for v in row.embedding]
                norm = sum(v * v for v in vector) ** 0.5 or 1.0
                out.append([v / norm for v in vector])
        if out:
            self.dim = len(out[0])
        return out
