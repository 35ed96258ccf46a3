"""Text embeddings behind one small interface; the hashing embedder needs no model at all."""

from __future__ import annotations

import math
import re
import zlib
from typing import Protocol

WORD = re.compile(r"[a-z0-9]+")


class Embedder(Protocol):
    """Turns texts into unit vectors of a fixed dimension."""

    name: str
    dim: int

    async def embed(self, texts: list[str]) -> list[list[float]]: ...


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


class HashEmbedder:
    """Feature hashing of words and character trigrams: fast, deterministic, dependency-free."""

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
