"""Query cache on real Redis: a hit, a miss after a re-index of that workspace, never a hit across
workspaces, and one computation for concurrent misses of one question."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core import workspaces
from core.embeddings import MiniLMEmbedder
from core.indexing import IncomingDocument, ingest_all
from core.models import Asker, Question
from hub.container import Services, open_services
from hub.migrate import upgrade
from hub.settings import Settings

ASKER = Asker(platform="api", user_id="u1")


@pytest.fixture
async def cached(settings: Settings, embedder: MiniLMEmbedder, redis_url: str) -> AsyncIterator[Services]:
    configured = settings.model_copy(update={"redis_url": redis_url})
    async with open_services(configured, embedder=embedder) as services:
        assert services.redis is not None and services.cache is not None
        await services.redis.flushdb()
        await upgrade(services.engine)
        yield services


def doc(name: str, text: str) -> IncomingDocument:
    return IncomingDocument(name, text.encode(), name)


async def test_hit_then_miss_after_reindex(cached: Services) -> None:
    async with cached.sessions.begin() as session:
        alpha = await workspaces.create(session, "alpha")
    await ingest_all(cached.indexer, alpha, [doc("vpn.md", "# VPN\n\nRequest VPN access in the IT portal.")])
    question = Question(text="How do I get VPN access?")
    first = await cached.asker.ask(alpha, question, ASKER)
    second = await cached.asker.ask(alpha, Question(text="how do I get  VPN access"), ASKER)  # normalised
    assert (cached.cache.stats.hits, cached.cache.stats.misses) == (1, 1)  # type: ignore[union-attr]
    assert second.answer == first.answer and second.citations == first.citations
    await ingest_all(
        cached.indexer, alpha, [doc("vpn.md", "# VPN\n\nRequest VPN access from the service desk.")]
    )
    third = await cached.asker.ask(alpha, question, ASKER)
    assert cached.cache.stats.misses == 2  # type: ignore[union-attr]
    assert "service desk" in third.answer and "IT portal" not in third.answer


async def test_never_a_hit_across_workspaces(cached: Services) -> None:
    async with cached.sessions.begin() as session:
        alpha = await workspaces.create(session, "alpha")
        beta = await workspaces.create(session, "beta")
    await ingest_all(
        cached.indexer, alpha, [doc("a.md", "# Pager\n\nPage the alpha-canary lead for a SEV1.")]
    )
    await ingest_all(cached.indexer, beta, [doc("b.md", "# Pager\n\nPage the beta-canary lead for a SEV1.")])
    question = Question(text="Who do I page for a SEV1?")
    from_alpha = await cached.asker.ask(alpha, question, ASKER)
    from_beta = await cached.asker.ask(beta, question, ASKER)
    assert cached.cache.stats.hits == 0  # type: ignore[union-attr]
    assert "alpha-canary" in from_alpha.answer and "beta-canary" in from_beta.answer
    assert "alpha-canary" not in from_beta.answer
    assert (await cached.asker.ask(beta, question, ASKER)).answer == from_beta.answer
    assert cached.cache.stats.hits == 1  # type: ignore[union-attr]


async def test_concurrent_misses_of_one_question_are_answered_once(
    cached: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No stampede: a cold popular question asked by many at once is computed once (found under load)."""
    async with cached.sessions.begin() as session:
        alpha = await workspaces.create(session, "alpha")
    await ingest_all(cached.indexer, alpha, [doc("vpn.md", "# VPN\n\nRequest VPN access in the IT portal.")])
    searches = 0
    search = cached.retriever.search

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal searches
        searches += 1
        return await search(*args, **kwargs)

    monkeypatch.setattr(cached.retriever, "search", counted)
    await cached.asker.ask(alpha, Question(text="Where is the IT portal?"), ASKER)
    per_answer, searches = searches, 0
    asks = [cached.asker.ask(alpha, Question(text="How do I get VPN access?"), ASKER) for _ in range(8)]
    answers = await asyncio.gather(*asks)
    assert searches == per_answer
    assert all(a.answer == answers[0].answer and a.citations == answers[0].citations for a in answers)
    assert "IT portal" in answers[0].answer
    assert len({id(a) for a in answers}) == 8  # each caller gets its own copy to annotate
