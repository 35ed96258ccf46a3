"""Memory search latency: Pixie's hybrid search vs the bare pgvector query, on the same rows.

Run: uv run python bench/memory_search.py [--queries 200] [--skip-1m] [--skip-local]

Scenarios (in one run, one embedded Postgres): one user with 1k, 10k and 100k memories (the
HNSW index is built for 100k), then 1M rows spread over 1,000 users. Rows are bulk-loaded with
COPY; texts are Zipf-distributed words (so full-text matches are realistic, some words very
common) and vectors are clustered 384-d unit vectors.

Two tables. Database work only: the query's vector is at hand on both sides. The whole search: the
query is really embedded by the local model on both sides — Pixie looks it up in the embedding cache,
runs the model and caches the vector, then searches; the bare side runs the model and then its query.
The vectors handed back are still the precomputed ones, so both tables find the same rows. Then the
local model's own throughput.

Bare query = what a pgvector user writes: `WHERE user_id = $1 ORDER BY embedding <=> $q LIMIT 5`
(in the form the HNSW index can serve). Pixie = Memory.search: session, backlog check, vector leg
+ full-text leg, reciprocal-rank fusion, rows fetched, k = 5.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from core.config import Settings
from core.memory import Memory
from core.runtime import open_runtime
from db.engine import database_url

DIM = 384
MODEL = "bench-model"
VOCAB = 6000
CLUSTERS = 200
rng = np.random.default_rng(7)
_COMMON = ("meeting project launch budget call review email report team client birthday dinner flight "
           "contract invoice design deadline office password doctor school").split()
WORDS = _COMMON + [f"w{i}" for i in range(VOCAB - len(_COMMON))]
ZIPF = 1.0 / np.arange(1, VOCAB + 1) ** 1.05
ZIPF /= ZIPF.sum()
CENTERS = rng.standard_normal((CLUSTERS, DIM)).astype(np.float32)


def texts(n: int) -> list[str]:
    """n memory-like texts of 6–16 Zipf-distributed words."""
    lengths = rng.integers(6, 17, n)
    picks = rng.choice(VOCAB, size=int(lengths.sum()), p=ZIPF)
    out, i = [], 0
    for length in lengths:
        out.append(" ".join(WORDS[j] for j in picks[i:i + length]))
        i += length
    return out


def vectors(n: int) -> np.ndarray:
    """n clustered unit vectors (topics with spread), float32."""
    v = CENTERS[rng.integers(0, CLUSTERS, n)] + 0.6 * rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


class BenchEmbedder:
    """Hands back the query's precomputed vector: the bench times the database, not a model."""

    name, dim, inline = MODEL, DIM, True

    def __init__(self) -> None:
        self.table: dict[str, list[float]] = {}

    async def embed(self, items: list[str]) -> list[list[float]]:
        return [self.table[t] for t in items]


class ModelTimedEmbedder:
    """The whole search as a user meets it: the local model really embeds the query (in its worker
    thread, as LocalEmbedder does) and the embedding cache is looked up and written first, as for
    every non-inline model. The vector handed back is still the precomputed one, so the hits are
    those of the database-only run; `took` records the model's own time for each query."""

    name, dim, inline = MODEL, DIM, False

    def __init__(self, table: dict[str, list[float]], model: Any) -> None:
        self.table, self.model = table, model
        self.took: list[float] = []

    async def embed(self, items: list[str]) -> list[list[float]]:
        t0 = time.perf_counter()
        await asyncio.to_thread(self.model.encode, items)
        self.took.append((time.perf_counter() - t0) * 1000)
        return [self.table[t] for t in items]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


SECONDARY = ["ix_memory_user_tsv", "ix_memory_user_model", "ix_memory_user_kind_source", "ix_memory_hnsw_384"]


async def drop_indexes(conn: Any) -> None:
    for name in SECONDARY:
        await conn.execute(f"DROP INDEX IF EXISTS {name}")


async def create_indexes(conn: Any, hnsw: bool) -> float:
    t0 = time.perf_counter()
    await conn.execute("CREATE INDEX IF NOT EXISTS ix_memory_user_tsv ON memory_items "
                       "USING gin (user_tsv) WITH (fastupdate = off)")
    await conn.execute("CREATE INDEX IF NOT EXISTS ix_memory_user_model ON memory_items (user_id, embedding_model)")
    await conn.execute("CREATE INDEX IF NOT EXISTS ix_memory_user_kind_source ON memory_items "
                       "(user_id, kind, source_id)")
    if hnsw:
        await conn.execute("SET maintenance_work_mem = '1GB'")
        await conn.execute("SET max_parallel_maintenance_workers = 1")
        await conn.execute("CREATE INDEX IF NOT EXISTS ix_memory_hnsw_384 ON memory_items USING hnsw "
                           "((embedding::vector(384)) vector_cosine_ops) WITH (m = 16, ef_construction = 64) "
                           "WHERE embedding_dim = 384")
    # A table at rest, as autovacuum leaves it after a bulk insert (visibility map set, statistics fresh).
    await conn.execute("VACUUM ANALYZE memory_items")
    return time.perf_counter() - t0


async def load(conn: Any, users: list[uuid.UUID], per_user: int, chunk: int = 50_000) -> float:
    """COPY per_user rows for each user; returns seconds."""
    t0 = time.perf_counter()
    start = time.time()
    total = len(users) * per_user
    owners = [u for u in users for _ in range(per_user)]
    for begin in range(0, total, chunk):
        n = min(chunk, total - begin)
        ts, vs = texts(n), vectors(n)
        rows = [(uuid.uuid4(), owners[begin + i], "note", ts[i], vs[i], MODEL, DIM,
                 dt.datetime.fromtimestamp(start - (total - begin - i), dt.UTC)) for i in range(n)]
        await conn.copy_records_to_table("memory_items", records=rows, columns=[
            "id", "user_id", "kind", "text", "embedding", "embedding_model", "embedding_dim", "created_at"])
    return time.perf_counter() - t0


async def add_users(conn: Any, n: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(n)]
    await conn.executemany(
        "INSERT INTO users (id, name, tz, created_at) VALUES ($1, $2, 'UTC', now())",
        [(i, f"bench-{i}") for i in ids])
    return ids


BARE = ("SELECT id, text FROM memory_items WHERE user_id = $1 AND embedding_dim = 384 "
        "ORDER BY (embedding::vector(384)) <=> $2::vector(384) LIMIT 5")


async def measure(rt: Any, conn: Any, embedder: BenchEmbedder, users: list[uuid.UUID], queries: int,
                  model: Any | None) -> dict[str, float]:
    """Per query: the bare query and Pixie's search with the vector at hand (database work only);
    then, with the local model, each side as a user meets it — the bare query after the model has
    embedded the query, and Pixie's whole search (cache, model, search). The two whole runs take
    turns going first."""
    qs = texts(queries + 20)
    qv = vectors(queries + 20)
    for t, v in zip(qs, qv, strict=True):
        embedder.table[t] = [float(x) for x in v]
    memory = Memory(embedder)  # fresh per-user size cache
    timed = ModelTimedEmbedder(embedder.table, model) if model is not None else None
    whole_memory = Memory(timed) if timed is not None else None
    series: dict[str, list[float]] = {k: [] for k in ("pixie", "bare", "whole", "whole_db", "ref", "ref_db")}
    short_bare = short_pixie = 0
    # One open transaction, as the search_memory tool runs inside the message's own transaction.
    async with rt.sessions() as session, session.begin():
        for i, (t, v) in enumerate(zip(qs, qv, strict=True)):
            uid = random.choice(users)
            t0 = time.perf_counter()
            got = await conn.fetch(BARE, uid, v)
            t1 = time.perf_counter()
            hits = await memory.search(session, uid, t, k=5)
            t2 = time.perf_counter()
            warm = i >= 20  # warm-up first
            if warm:
                series["bare"].append((t1 - t0) * 1000)
                series["pixie"].append((t2 - t1) * 1000)
                short_bare += len(got) < 5
                short_pixie += len(hits) < 5
            if whole_memory is None or timed is None:
                continue
            for side in ("ref", "whole") if i % 2 else ("whole", "ref"):
                t3 = time.perf_counter()
                if side == "ref":
                    await asyncio.to_thread(timed.model.encode, [t])
                    t4 = time.perf_counter()
                    await conn.fetch(BARE, uid, v)
                    db = (time.perf_counter() - t4) * 1000
                else:
                    again = await whole_memory.search(session, uid, t, k=5)
                    assert [h.id for h in again] == [h.id for h in hits]
                    db = (time.perf_counter() - t3) * 1000 - timed.took[-1]
                if warm:
                    series[side].append((time.perf_counter() - t3) * 1000)
                    series[f"{side}_db"].append(db)
    out: dict[str, float] = {"short_bare": short_bare, "short_pixie": short_pixie}
    for name, values in series.items():
        if values:
            out.update({f"{name}_p50": pct(values, 50), f"{name}_p95": pct(values, 95)})
    return out


def local_model() -> Any | None:
    from core.embeddings import local_model_installed

    if not local_model_installed():
        return None
    from core.minilm import LocalEmbedder

    return LocalEmbedder()


def local_model_figures(model: Any) -> dict[str, float]:
    sample = [f"remember that {t}" for t in texts(512)]
    model.encode(sample[:32])
    t0 = time.perf_counter()
    model.encode(sample)
    batched = len(sample) / (time.perf_counter() - t0)
    single = []
    for q in sample[:60]:
        t0 = time.perf_counter()
        model.encode([q])
        single.append((time.perf_counter() - t0) * 1000)
    return {"texts_s": batched, "query_p50": pct(single, 50), "query_p95": pct(single, 95)}


async def run(data_dir: Path, queries: int, skip_1m: bool,
              model: Any | None) -> list[tuple[str, dict[str, float], str]]:
    import asyncpg
    from pgvector.asyncpg import register_vector

    settings = Settings(PIXIE_DATA_DIR=data_dir, PIXIE_LLM="offline", PIXIE_EMBEDDINGS="hash",
                        PIXIE_DATABASE_URL=os.environ.get("PIXIE_DATABASE_URL"))
    out = []
    async with open_runtime(settings) as rt:
        url = database_url(settings.database_url, settings.data_dir).replace("postgresql+asyncpg", "postgresql")
        conn = await asyncpg.connect(url)
        await register_vector(conn)
        embedder = BenchEmbedder()
        await conn.execute("TRUNCATE memory_items, users CASCADE")
        await drop_indexes(conn)
        [solo] = await add_users(conn, 1)
        have = 0
        for size in (1_000, 10_000, 100_000):
            took = await load(conn, [solo], size - have)
            have = size
            built = await create_indexes(conn, hnsw=size >= 100_000)
            note = f"load {took:.0f} s, indexes {built:.0f} s"
            out.append((f"1 user, {size // 1000}k", await measure(rt, conn, embedder, [solo], queries, model), note))
            print(out[-1], flush=True)
            await drop_indexes(conn)
        if not skip_1m:
            await conn.execute("TRUNCATE memory_items, users CASCADE")
            many = await add_users(conn, 1000)
            took = await load(conn, many, 1000)
            # No HNSW at 1M: its build alone would take ~10 min here, and per-user scans serve these users.
            built = await create_indexes(conn, hnsw=False)
            out.append(("1M rows, 1,000 users", await measure(rt, conn, embedder, many, queries, model),
                        f"load {took:.0f} s, indexes {built:.0f} s, no HNSW"))
            print(out[-1], flush=True)
        await create_indexes(conn, hnsw=False)
        await conn.close()
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--skip-1m", action="store_true")
    p.add_argument("--skip-local", action="store_true")
    args = p.parse_args()
    random.seed(7)
    model = None if args.skip_local else local_model()
    local = local_model_figures(model) if model is not None else None
    with tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(run(Path(tmp), args.queries, args.skip_1m, model))
    print("\nDatabase work only (the query's vector at hand on both sides):\n")
    print("| data | Pixie p50 / p95 | bare pgvector p50 / p95 | Pixie ÷ bare, p50 / p95 | short top-5 (Pixie / bare) "
          "| notes |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, r, note in results:
        print(f"| {name} | {r['pixie_p50']:.2f} / {r['pixie_p95']:.2f} ms | "
              f"{r['bare_p50']:.2f} / {r['bare_p95']:.2f} ms | "
              f"{r['pixie_p50'] / r['bare_p50']:.2f}× / {r['pixie_p95'] / r['bare_p95']:.2f}× | "
              f"{r['short_pixie']} / {r['short_bare']} | {note} |")
    if any("whole_p50" in r for _, r, _ in results):
        print("\nThe whole search, the query embedded by the local model. Pixie: embedding-cache lookup, model, "
              "cache write, search. Bare: the model, then the bare query. 'Besides the model' takes each run's "
              "own model time out.\n")
        print("| data | Pixie p50 / p95 | bare + model p50 / p95 | Pixie ÷ (bare + model), p50 / p95 "
              "| besides the model: Pixie / bare, p50 | ratio |")
        print("| --- | --- | --- | --- | --- | --- |")
        for name, r, _ in results:
            if "whole_p50" in r:
                print(f"| {name} | {r['whole_p50']:.1f} / {r['whole_p95']:.1f} ms | "
                      f"{r['ref_p50']:.1f} / {r['ref_p95']:.1f} ms | "
                      f"{r['whole_p50'] / r['ref_p50']:.2f}× / {r['whole_p95'] / r['ref_p95']:.2f}× | "
                      f"{r['whole_db_p50']:.2f} / {r['ref_db_p50']:.2f} ms | "
                      f"{r['whole_db_p50'] / r['ref_db_p50']:.2f}× |")
    if local:
        print(f"\nlocal model (all-MiniLM-L6-v2, numpy): {local['texts_s']:.0f} texts/s batched; "
              f"one query {local['query_p50']:.1f} ms p50, {local['query_p95']:.1f} ms p95")


if __name__ == "__main__":
    main()
