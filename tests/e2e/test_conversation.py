"""REST over real uvicorn: a three-turn conversation that survives an app restart (a new app on the same
data dir), suggestions scoped to the key's workspace, and the cache hit ratio in /metrics."""

from __future__ import annotations

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from core import apikeys, workspaces
from core.embeddings import MiniLMEmbedder
from core.indexing import IncomingDocument, ingest_all
from core.tables import ConversationTurn
from hub.app import create_app
from hub.settings import Settings
from tests.support.live import serve

TRAVEL = (
    b"# Travel policy\n\n## Hotels\n\nThe hotel limit in London is 250 GBP per night for employees.\n\n"
    b"## Contractors\n\nFor contractors the hotel limit in London is 180 GBP per night, "
    b"booked by their agency."
)
PAGER = b"# Incident paging\n\n## SEV1 escalation\n\nPage the SRE lead for a SEV1 incident."


async def setup(settings: Settings, embedder: MiniLMEmbedder) -> tuple[str, str]:
    async with serve(create_app(settings, embedder=embedder)) as live:
        services = live.services
        async with services.sessions.begin() as session:
            alpha = await workspaces.create(session, "alpha")
            beta = await workspaces.create(session, "beta")
            _, key_a = await apikeys.create(session, alpha, "viewer")
            _, key_b = await apikeys.create(session, beta, "viewer")
        await ingest_all(services.indexer, alpha, [IncomingDocument("travel.md", TRAVEL, "travel.md")])
        await ingest_all(services.indexer, beta, [IncomingDocument("pager.md", PAGER, "pager.md")])
    return key_a, key_b


async def ask(base_url: str, key: str, question: str, conversation: str) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.post(
            "/api/v1/workspaces/alpha/ask",
            json={"question": question, "conversation_id": conversation},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def flush(settings: Settings) -> None:
    async with Redis.from_url(settings.redis_url or "") as redis:
        await redis.flushdb()


@pytest.fixture
def live_settings(settings: Settings, redis_url: str) -> Settings:
    return settings.model_copy(update={"redis_url": redis_url})


async def test_three_turns_across_a_restart(live_settings: Settings, embedder: MiniLMEmbedder) -> None:
    await flush(live_settings)
    key_a, _ = await setup(live_settings, embedder)
    async with serve(create_app(live_settings, embedder=embedder)) as live:
        first = await ask(live.base_url, key_a, "What is the hotel limit in London?", "thread-1")
        second = await ask(live.base_url, key_a, "and for contractors?", "thread-1")
        alone = await ask(live.base_url, key_a, "and for contractors?", "thread-2")
    assert "250 GBP" in str(first["answer"])
    assert "180 GBP" in str(second["answer"])
    assert second["question"] == "and for contractors?"
    async with serve(create_app(live_settings, embedder=embedder)) as live:  # the restart
        third = await ask(live.base_url, key_a, "and for employees?", "thread-1")
        async with live.services.sessions() as session:
            turns = list(
                await session.scalars(
                    select(ConversationTurn.standalone)
                    .where(ConversationTurn.conversation_id == "thread-1")
                    .order_by(ConversationTurn.id)
                )
            )
        async with live.services.sessions() as session:
            other = await session.scalar(
                select(ConversationTurn.standalone).where(ConversationTurn.conversation_id == "thread-2")
            )
    assert other == "and for contractors?"  # no history borrowed from another conversation
    assert alone["question"] == "and for contractors?"
    assert "250 GBP" in str(third["answer"])
    assert turns == [
        "What is the hotel limit in London?",
        "What is the hotel limit in London for contractors?",
        "What is the hotel limit in London for contractors for employees?",
    ]


async def test_suggest_is_scoped_and_metrics_show_cache_hits(
    live_settings: Settings, embedder: MiniLMEmbedder
) -> None:
    await flush(live_settings)
    key_a, key_b = await setup(live_settings, embedder)
    async with (
        serve(create_app(live_settings, embedder=embedder)) as live,
        httpx.AsyncClient(base_url=live.base_url, timeout=30) as http,
    ):
        url = "/api/v1/workspaces/{}/suggest"
        found = await http.get(
            url.format("alpha"), params={"q": "hot"}, headers={"Authorization": f"Bearer {key_a}"}
        )
        assert found.status_code == 200
        assert any("hotel limit" in s.lower() for s in found.json()["suggestions"])
        across = await http.get(
            url.format("alpha"), params={"q": "SEV"}, headers={"Authorization": f"Bearer {key_a}"}
        )
        assert across.json()["suggestions"] == []  # beta's pager doc is invisible to alpha
        assert (
            await http.get(
                url.format("beta"), params={"q": "SEV"}, headers={"Authorization": f"Bearer {key_a}"}
            )
        ).status_code == 404
        own = await http.get(
            url.format("beta"), params={"q": "sev"}, headers={"Authorization": f"Bearer {key_b}"}
        )
        assert "SEV1 escalation" in own.json()["suggestions"]
        bad = await http.get(
            url.format("alpha"), params={"q": ""}, headers={"Authorization": f"Bearer {key_a}"}
        )
        assert bad.status_code == 422
        for _ in range(2):
            await ask(live.base_url, key_a, "What is the hotel limit in London?", "m")
        metrics = (await http.get("/metrics")).text
    assert 'switchboard_cache_requests_total{cache="query",result="hit"} 1.0' in metrics
    assert 'switchboard_cache_requests_total{cache="query",result="miss"} 1.0' in metrics
