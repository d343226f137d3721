"""Changing the embedding model: the workspace is refused until `reindex`, then searched by the new model;
processes holding a handle on the dropped vector collection recover by themselves."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from core import workspaces
from core.analysis import Analyzer
from core.embeddings import MiniLMEmbedder, OpenAIEmbedder
from core.errors import IndexMismatch
from core.indexing import Indexer, ingest_all
from core.retrieval import RetrievalConfig
from core.tables import Chunk
from core.vectors import VectorIndex, connect
from hub.container import Services, open_services
from hub.migrate import upgrade
from hub.settings import Settings
from tests.fakes.openai import EMBEDDING_DIM, FakeOpenAI, running
from tests.integration.test_retrieval import CORPUS, ids


@pytest.fixture
def scaled(settings: Settings, chroma_server: str) -> Settings:
    """A deployment whose processes share one database and a Chroma server."""
    return settings.model_copy(update={"chroma_url": chroma_server})


@pytest.fixture
async def old_model(scaled: Settings, embedder: MiniLMEmbedder) -> AsyncIterator[Services]:
    async with open_services(scaled, embedder=embedder, with_redis=False) as opened:
        await upgrade(opened.engine)
        yield opened


@pytest.fixture
async def new_model(scaled: Settings, old_model: Services) -> AsyncIterator[Services]:
    """Another process of the deployment, configured with an OpenAI-compatible model (a fake on loopback)."""
    async with running(FakeOpenAI()) as base_url:
        embedder = OpenAIEmbedder(base_url=base_url, api_key="sk-test", model="embed-test", dim=EMBEDDING_DIM)
        async with open_services(scaled, embedder=embedder, with_redis=False) as opened:
            yield opened


async def test_reindex_moves_a_workspace_to_the_new_model(old_model: Services, new_model: Services) -> None:
    async with old_model.sessions.begin() as session:
        workspace = await workspaces.create(session, "acme")
    await ingest_all(old_model.indexer, workspace, CORPUS)

    async with new_model.sessions() as session:
        workspace = await workspaces.get(session, "acme")
    with pytest.raises(IndexMismatch, match="switchboard reindex acme"):
        await new_model.retriever.search(workspace, "promote the replica")

    progress: list[tuple[int, int]] = []
    count = await new_model.indexer.reindex(
        workspace, batch_size=2, on_progress=lambda *p: progress.append(p)
    )
    async with new_model.sessions() as session:
        chunk_ids = set((await session.scalars(select(Chunk.id))).all())
        workspace = await workspaces.get(session, "acme")
    assert count == len(chunk_ids) and progress[-1] == (count, count) and len(progress) == -(-count // 2)
    assert workspace.embedding_model == "openai:embed-test"
    assert await new_model.vectors.chunk_ids(workspace.uid) == chunk_ids

    new_model.retriever.config = RetrievalConfig(mode="vector")
    assert (await ids(new_model, workspace, "promote the replica pgctl"))[0] == "db.md"
    new_model.retriever.config = RetrievalConfig()
    assert (await ids(new_model, workspace, "London hotel limit"))[0] == "hotel.csv"
    with pytest.raises(IndexMismatch):  # the old model is now the one refused
        await old_model.retriever.search(workspace, "promote the replica")


async def test_a_handle_on_a_dropped_collection_is_refreshed(
    old_model: Services, scaled: Settings, embedder: MiniLMEmbedder
) -> None:
    """Another process drops and rebuilds the collection; this one's cached handle would point at
    nothing, so the call is retried once on a fresh handle."""
    async with old_model.sessions.begin() as session:
        workspace = await workspaces.create(session, "acme")
    await ingest_all(old_model.indexer, workspace, CORPUS)
    vector = embedder.embed(["promote the replica"])[0]
    before = await old_model.vectors.query(workspace.uid, vector, limit=3, where=None)

    elsewhere = VectorIndex(connect(chroma_url=scaled.chroma_url, path=None), embedder)
    await Indexer(old_model.sessions, elsewhere, embedder, Analyzer()).reindex(workspace)  # drops, rebuilds

    after = await old_model.vectors.query(workspace.uid, vector, limit=3, where=None)
    assert [chunk_id for chunk_id, _ in after] == [chunk_id for chunk_id, _ in before]
