"""The embedders: the bundled MiniLM run with numpy, an OpenAI-compatible endpoint, the choice between them."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import text

from bots.app import Runtime, make_embedder
from connectors.openai_embeddings import OpenAIEmbedder
from core.config import Settings
from core.embeddings import EmbeddingError, HashEmbedder, local_model_installed
from core.memory import Memory
from tests.conftest import at
from tests.fakes.openai_embeddings import FakeEmbeddings


def cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def local():  # type: ignore[no-untyped-def]
    from core.minilm import LocalEmbedder

    return LocalEmbedder()


async def test_local_model_puts_a_paraphrase_closer_than_an_unrelated_text(local) -> None:  # type: ignore[no-untyped-def]
    fix, repair, milk = await local.embed(["fix auth bug", "repair the login issue", "buy oat milk at the store"])
    assert cos(fix, repair) > cos(fix, milk) + 0.3
    for v in (fix, repair, milk):
        assert len(v) == 384 and math.isclose(math.sqrt(cos(v, v)), 1.0, abs_tol=1e-5)


async def test_local_model_matches_the_reference_similarities_of_sentence_transformers(local) -> None:  # type: ignore[no-untyped-def]
    # sentence-transformers' own quick-start prints these for all-MiniLM-L6-v2:
    # tensor([[1.0000, 0.6660, 0.1046], [0.6660, 1.0000, 0.1411], [0.1046, 0.1411, 1.0000]])
    a, b, c = await local.embed(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    assert (round(cos(a, b), 4), round(cos(a, c), 4), round(cos(b, c), 4)) == (0.6660, 0.1046, 0.1411)


async def test_local_model_is_order_and_batch_independent(local) -> None:  # type: ignore[no-untyped-def]
    texts = ["short", "a somewhat longer sentence about the Orion launch date", "mid length text here"]
    together = local.encode(texts)
    alone = [local.encode([t])[0] for t in texts]
    for x, y in zip(together, alone, strict=True):
        assert float(abs(x - y).max()) < 1e-5  # padding inside a batch changes nothing


def test_auto_picks_the_local_model_when_installed_and_hash_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    assert local_model_installed()  # the default install carries the model
    assert make_embedder(Settings(PIXIE_EMBEDDINGS="auto")).name == "all-MiniLM-L6-v2"
    monkeypatch.setattr("bots.app.local_model_installed", lambda: False)
    assert isinstance(make_embedder(Settings(PIXIE_EMBEDDINGS="auto")), HashEmbedder)
    with pytest.raises(SystemExit, match="installed with pixie by `uv sync`"):
        make_embedder(Settings(PIXIE_EMBEDDINGS="local"))


async def test_openai_compatible_endpoint_with_chosen_model_and_dimensions(rt: Runtime) -> None:
    async with FakeEmbeddings() as fake:
        settings = Settings(PIXIE_EMBEDDINGS="openai", PIXIE_EMBEDDINGS_MODEL="nomic-embed-text",
                            PIXIE_EMBEDDINGS_DIMENSIONS=256, PIXIE_EMBEDDINGS_BASE_URL=fake.url,
                            OPENAI_API_KEY="sk-test")
        embedder = make_embedder(settings)
        assert embedder.name == "openai:nomic-embed-text:256"
        vectors = await embedder.embed(["the Atlas stack is FastAPI", "Atlas runs FastAPI", "Lena is vegan"])
        assert fake.requests[-1]["model"] == "nomic-embed-text" and fake.requests[-1]["dimensions"] == 256
        assert [len(v) for v in vectors] == [256] * 3
        assert math.isclose(cos(vectors[0], vectors[0]), 1.0, abs_tol=1e-6)  # normalised on our side
        assert cos(vectors[0], vectors[1]) > cos(vectors[0], vectors[2])  # order kept by `index`

        # Through memory: vectors named by the model, found by meaning, the query cached.
        memory = Memory(embedder)
        async with rt.sessions() as session, session.begin():
            ada = await rt.assistant.user_for(session, "terminal", "ada", at("2026-03-02T09:00:00+01:00"),
                                              "Europe/Berlin", name="ada")
            assert ada is not None
            await memory.add(session, ada.id, "note", "the Atlas stack is Python, FastAPI and Redis")
            hits = await memory.search(session, ada.id, "Atlas stack")
            assert "FastAPI" in hits[0].text
            calls = len(fake.requests)
            await memory.search(session, ada.id, "Atlas stack")
            assert len(fake.requests) == calls  # the same text is not sent twice

            # Word weights come from Postgres' statistics of the table, which other tests' rows may have
            # left behind: analyse what is there now, as autovacuum would.
            await session.execute(text("ANALYZE memory_items"))
            fake.fail_with = 500  # the endpoint goes down: the words still find it
            again = await memory.search(session, ada.id, "what is the Atlas stack built with")
            assert "FastAPI" in again[0].text
        await embedder.aclose()  # type: ignore[attr-defined]


async def test_openai_errors_become_embedding_errors() -> None:
    async with FakeEmbeddings() as fake:
        fake.fail_with = 401
        embedder = OpenAIEmbedder("text-embedding-3-small", "bad", fake.url)
        with pytest.raises(EmbeddingError, match="endpoint failed"):
            await embedder.embed(["hello"])
        await embedder.aclose()
