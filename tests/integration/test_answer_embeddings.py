"""What an uncached extractive answer embeds: the question once, and only sentences not seen before.

Embedding is nearly all the CPU of an answer (bench/README.md, load). The answers must be exactly those
computed without any reuse: a text's vector does not depend on its batch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import numpy as np
import pytest
from redis.asyncio import Redis

from core import workspaces
from core.analysis import Analyzer
from core.cache import SharedVectors
from core.embeddings import MiniLMEmbedder, VectorMemo, Vectors, batches
from core.extractive import ExtractiveAnswerer, ExtractiveConfig, candidates
from core.indexing import IncomingDocument, ingest_all
from core.models import Asker, Question
from core.tables import Workspace
from hub.container import Services, open_services
from hub.migrate import upgrade
from hub.runtime import free_port
from hub.settings import Settings

ASKER = Asker(platform="api", user_id="u1")
HANDBOOK = """# Travel

Book flights through the travel portal at least two weeks ahead. The hotel limit in London is 250 pounds
per night. Economy class is the default for flights under six hours. Receipts are uploaded within 30 days.

# On-call

The incident commander pages the on-call engineer for every SEV1. Handoffs happen on Mondays at 10:00.
The outgoing engineer writes a summary of open incidents. On-call weeks are compensated with a day off.
"""
QUESTIONS = ["What is the hotel limit in London?", "Who pages the on-call engineer for a SEV1?"]


class CountingEmbedder:
    """The real model, recording every text it is asked to embed."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self._inner = inner
        self.texts: list[str] = []

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dim(self) -> int:
        return self._inner.dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.texts.extend(texts)
        return self._inner.embed(texts)


@pytest.fixture
async def counted(
    settings: Settings, embedder: MiniLMEmbedder
) -> AsyncIterator[tuple[Services, CountingEmbedder, Workspace]]:
    counting = CountingEmbedder(embedder)
    async with open_services(settings, embedder=counting, with_redis=False) as services:
        await upgrade(services.engine)
        async with services.sessions.begin() as session:
            workspace = await workspaces.create(session, "alpha")
        await ingest_all(services.indexer, workspace, [IncomingDocument("handbook.md", HANDBOOK.encode())])
        counting.texts.clear()
        yield services, counting, workspace


async def test_the_question_is_embedded_once_and_sentences_once_per_process(
    counted: tuple[Services, CountingEmbedder, Workspace],
) -> None:
    services, counting, workspace = counted
    first = await services.asker.ask(workspace, Question(text=QUESTIONS[0]), ASKER)
    assert not first.abstained and "250 pounds" in first.answer
    assert counting.texts.count(QUESTIONS[0]) == 1  # retrieval's vector is reused by the extract
    sentences = set(counting.texts) - {QUESTIONS[0]}
    assert sentences and all(s in " ".join(HANDBOOK.split()) for s in sentences)

    counting.texts.clear()
    again = await services.asker.ask(workspace, Question(text=QUESTIONS[0]), ASKER)
    assert counting.texts == [QUESTIONS[0]]  # no query cache here: retrieval runs, sentences are known
    assert again.answer == first.answer and again.citations == first.citations


async def test_answers_with_remembered_vectors_equal_answers_without(
    counted: tuple[Services, CountingEmbedder, Workspace], embedder: MiniLMEmbedder
) -> None:
    services, _, workspace = counted
    forgetful = ExtractiveAnswerer(embedder, Analyzer(), ExtractiveConfig(remembered_sentences=0))
    for question in QUESTIONS * 2:  # the second round answers from remembered sentence vectors
        hits = await services.retriever.search(workspace, question, limit=8)
        remembered = await services.asker.ask(workspace, Question(text=question), ASKER)
        fresh = await forgetful.extract(question, hits)
        assert remembered.answer == fresh.text
        assert [c.quote for c in remembered.citations] == [c.quote for c in fresh.citations]
        assert remembered.confidence == pytest.approx(fresh.confidence, abs=1e-4)
    assert len(forgetful.memo) == 0


def test_the_memo_keeps_the_most_recently_used_and_no_text() -> None:
    memo = VectorMemo(capacity=2)
    vectors = {name: np.full(3, n, dtype=np.float32) for n, name in enumerate(["a", "b", "c"])}
    memo.put("a", vectors["a"])
    memo.put("b", vectors["b"])
    assert memo.get("a") is vectors["a"]  # "a" is now the most recent: "b" goes first
    memo.put("c", vectors["c"])
    assert memo.get("b") is None and memo.get("a") is vectors["a"] and memo.get("c") is vectors["c"]
    assert (memo.hits, memo.misses, len(memo)) == (3, 1, 2)
    secret = "the launch date is 14 March"
    memo.put(secret, vectors["a"])
    assert all(secret.encode() not in key for key in memo._vectors)  # digests, not document text


def test_a_memo_of_capacity_zero_remembers_nothing() -> None:
    memo = VectorMemo(capacity=0)
    memo.put("a", np.zeros(3, dtype=np.float32))
    assert memo.get("a") is None and len(memo) == 0


def test_a_question_runs_at_its_own_length_and_padding_does_not_change_vectors(
    embedder: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped tokenizer padded every text to 128 tokens: seven times the work for a short question.
    Texts of near-equal length share a batch, padded to the longest; a short one never waits on a long
    one's width (twelve answer sentences padded together cost 3.5 times as much as one by one)."""
    question = "How do I fail over the orders database?"
    widths: list[list[int]] = []
    session = embedder._session
    run = session.run

    def recording(outputs: Any, feeds: dict[str, Any]) -> Any:
        widths.append([int(n) for n in feeds["attention_mask"].sum(axis=1)] + [feeds["input_ids"].shape[1]])
        return run(outputs, feeds)

    monkeypatch.setattr(session, "run", recording)
    alone = embedder.embed([question])
    padded = embedder.embed([question, question + " Today?"])  # two tokens longer: one batch, padded
    mixed = embedder.embed(["word " * 200, question])
    short = widths[0][-1]
    assert short < 16
    assert widths[1] == [short, short + 2, short + 2]  # both texts in one batch, the question padded
    assert sorted(widths[2:]) == [[short, short], [202, 202]]  # the long text in a batch of its own
    assert np.allclose(alone[0], padded[0], atol=1e-6)
    assert np.allclose(alone[0], mixed[1], atol=1e-6)


def test_batches_group_near_equal_lengths_up_to_the_batch_size() -> None:
    assert batches([], 32) == []
    assert batches([5, 5, 6, 30, 31, 200, 7], 32) == [[0, 1, 2, 6], [3, 4], [5]]
    assert batches([10] * 5, 2) == [[0, 1], [2, 3], [4]]
    for lengths in ([3, 90, 4, 88, 250, 5, 5], [1] * 40 + [256]):
        grouped = batches(lengths, 8)
        assert sorted(i for group in grouped for i in group) == list(range(len(lengths)))
        for group in grouped:
            real = sum(lengths[i] for i in group)
            assert len(group) <= 8 and max(lengths[i] for i in group) * len(group) <= 1.25 * real


@pytest.fixture
async def two_workspaces(
    settings: Settings, embedder: MiniLMEmbedder, redis_url: str
) -> AsyncIterator[tuple[Services, Workspace, Workspace]]:
    """One process's services on real Redis, and two workspaces holding the same handbook."""
    async with open_services(
        settings.model_copy(update={"redis_url": redis_url}), embedder=embedder
    ) as services:
        assert services.redis is not None
        await services.redis.flushdb()
        await upgrade(services.engine)
        async with services.sessions.begin() as session:
            alpha = await workspaces.create(session, "alpha")
            beta = await workspaces.create(session, "beta")
        for workspace in (alpha, beta):
            await ingest_all(
                services.indexer, workspace, [IncomingDocument("handbook.md", HANDBOOK.encode())]
            )
        yield services, alpha, beta


async def other_process_extract(
    services: Services, answerer: ExtractiveAnswerer, workspace: Workspace, question: str
) -> Any:
    hits = await services.retriever.search(workspace, question, limit=8)
    return await answerer.extract(question, hits, scope=workspace.uid)


async def test_a_sentence_one_process_embedded_serves_the_others_of_its_workspace_only(
    two_workspaces: tuple[Services, Workspace, Workspace], embedder: MiniLMEmbedder
) -> None:
    services, alpha, beta = two_workspaces
    assert services.redis is not None
    first = await services.asker.ask(alpha, Question(text=QUESTIONS[0]), ASKER)  # this process embeds
    counting = CountingEmbedder(embedder)  # another process: nothing remembered of its own
    other = ExtractiveAnswerer(counting, Analyzer(), shared=SharedVectors(services.redis, embedder.name, 384))
    extract = await other_process_extract(services, other, alpha, QUESTIONS[0])
    assert counting.texts == [QUESTIONS[0]]  # the question only: every sentence came from Redis
    assert extract.text == first.answer and [c.quote for c in extract.citations] == [
        c.quote for c in first.citations
    ]
    counting.texts.clear()
    third = ExtractiveAnswerer(counting, Analyzer(), shared=SharedVectors(services.redis, embedder.name, 384))
    await other_process_extract(services, third, beta, QUESTIONS[0])  # the same sentences, in beta
    assert len(set(counting.texts) - {QUESTIONS[0]}) >= 2  # beta's are embedded: no key spans workspaces
    keys = [key async for key in services.redis.scan_iter(match="sb:vec:*")]
    assert keys and {key.decode().split(":")[2] for key in keys} == {alpha.uid, beta.uid}
    assert all("hotel" not in key.decode() for key in keys)  # digests, never the text
    ttls = [await services.redis.ttl(key) for key in keys]
    assert all(0 < ttl <= 3600 for ttl in ttls)


async def test_a_redis_outage_or_a_bad_entry_costs_an_embedding_never_the_answer(
    two_workspaces: tuple[Services, Workspace, Workspace], embedder: MiniLMEmbedder
) -> None:
    services, alpha, _ = two_workspaces
    assert services.redis is not None
    forgetful = ExtractiveAnswerer(embedder, Analyzer(), ExtractiveConfig(remembered_sentences=0))
    expected = await other_process_extract(services, forgetful, alpha, QUESTIONS[1])
    shared = SharedVectors(services.redis, embedder.name, 384)
    hits = await services.retriever.search(alpha, QUESTIONS[1], limit=8)
    sentences = [c.text for c in candidates(hits, ExtractiveConfig().hits)]
    for text in sentences:
        await services.redis.set(shared.key(alpha.uid, text), b"not a vector")
    counting = CountingEmbedder(embedder)
    repaired = ExtractiveAnswerer(counting, Analyzer(), shared=shared)
    got = await other_process_extract(services, repaired, alpha, QUESTIONS[1])
    assert got == expected and len(counting.texts) > 1  # bad entries were embedded again
    assert all(v is not None for v in await shared.get(alpha.uid, counting.texts[1:]))  # and replaced
    down = Redis.from_url(f"redis://127.0.0.1:{free_port()}", socket_connect_timeout=0.5)
    try:
        offline = ExtractiveAnswerer(embedder, Analyzer(), shared=SharedVectors(down, embedder.name, 384))
        assert await other_process_extract(services, offline, alpha, QUESTIONS[1]) == expected
    finally:
        await down.aclose()
