"""The in-memory keyword index agrees with BM25 in SQL on SQLite and PostgreSQL, and stays in step with
writes made through other connections, concurrent ones included."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import delete, func, select, update

from core import keyword, workspaces
from core.analysis import Analyzer
from core.db import Sessions, make_engine, make_sessions
from core.indexing import IncomingDocument, ingest_all
from core.keyword_memory import MemoryKeywords
from core.retrieval import Access, RetrievalConfig, Retriever
from core.tables import KeywordChange, Posting, Workspace
from hub.container import Services

WORDS = [
    *("replica", "failover", "promote", "backup", "restore", "invoice", "travel", "hotel", "vacation"),
    *("salary", "pager", "incident", "runbook", "deploy", "rollback", "certificate", "token", "rotate"),
    *("audit", "quota", "latency", "cache", "cluster", "node"),
]
QUERIES = ["promote replica", "hotel travel invoice", "incident pager runbook", "rotate token", "cache node"]


def documents(prefix: str, n: int, seed: int) -> list[IncomingDocument]:
    rng = random.Random(seed)
    return [
        IncomingDocument(f"{prefix}-{i}.txt", " ".join(rng.choices(WORDS, k=rng.randint(4, 30))).encode())
        for i in range(n)
    ]


@pytest.fixture
async def reader(any_services: Services) -> AsyncIterator[Sessions]:
    """Sessions on their own engine and pool, as another process would have."""
    engine = make_engine(str(any_services.engine.url.render_as_string(hide_password=False)))
    try:
        yield make_sessions(engine)
    finally:
        await engine.dispose()


async def in_sql(services: Services, workspace: Workspace, query: str) -> dict[int, float]:
    async with services.sessions() as session:
        hits = await keyword.search(session, workspace.id, Analyzer().term_counts(query), limit=10_000)
    return dict(hits)


async def assert_agrees(memory: MemoryKeywords, services: Services, workspace: Workspace) -> None:
    for query in QUERIES:
        expected = await in_sql(services, workspace, query)
        got = await memory.search(workspace, Analyzer().term_counts(query), limit=10_000)
        assert dict(got) == pytest.approx(expected, rel=1e-9), query
        best = await memory.search(workspace, Analyzer().term_counts(query), limit=5)
        assert [s for _, s in best] == pytest.approx(sorted(expected.values(), reverse=True)[:5])


async def test_memory_follows_every_write_made_elsewhere(any_services: Services, reader: Sessions) -> None:
    async with any_services.sessions.begin() as session:
        workspace = await workspaces.create(session, "acme")
    await ingest_all(any_services.indexer, workspace, documents("a", 40, seed=1))
    memory = MemoryKeywords(reader)
    await assert_agrees(memory, any_services, workspace)  # loaded whole

    # Updates (new text under the same ids), new documents and deletions, each seen on the next search.
    await ingest_all(any_services.indexer, workspace, documents("a", 10, seed=2))
    await assert_agrees(memory, any_services, workspace)
    await ingest_all(any_services.indexer, workspace, documents("b", 15, seed=3))
    for i in range(0, 40, 3):
        assert await any_services.indexer.delete(workspace, "upload", f"a-{i}.txt")
    await assert_agrees(memory, any_services, workspace)
    everything = await memory.search(workspace, Analyzer().term_counts(" ".join(WORDS)), limit=10_000)
    async with any_services.sessions() as session:
        indexed = set((await session.scalars(select(Posting.chunk_id).distinct())).all())
    assert {cid for cid, _ in everything} == indexed
    fresh = MemoryKeywords(reader)  # a new process loads it whole, packed by the database
    await assert_agrees(fresh, any_services, workspace)


async def test_concurrent_writers_leave_no_change_unseen(any_services: Services, reader: Sessions) -> None:
    """Writers on several connections take generations in commit order: a reader polling meanwhile
    ends up with exactly the index in SQL."""
    async with any_services.sessions.begin() as session:
        workspace = await workspaces.create(session, "acme")
    await ingest_all(any_services.indexer, workspace, documents("seed", 5, seed=4))
    memory = MemoryKeywords(reader)
    await memory.current(workspace)
    writing = asyncio.gather(
        *(
            ingest_all(any_services.indexer, workspace, documents(f"w{n}", 12, seed=10 + n), batch_size=4)
            for n in range(3)
        )
    )
    while not writing.done():
        await memory.search(workspace, Analyzer().term_counts("replica"), limit=5)
        await asyncio.sleep(0.01)
    await writing
    await assert_agrees(memory, any_services, workspace)
    async with any_services.sessions() as session:
        generation = await keyword.generation(session, workspace.id)
        logged = await session.scalar(
            select(func.count(func.distinct(KeywordChange.generation))).where(
                KeywordChange.workspace_id == workspace.id
            )
        )
    assert logged == generation  # one logged generation per bump, none lost or doubled


async def test_a_reader_behind_a_pruned_log_loads_the_index_whole(
    any_services: Services, reader: Sessions
) -> None:
    async with any_services.sessions.begin() as session:
        workspace = await workspaces.create(session, "acme")
    await ingest_all(any_services.indexer, workspace, documents("a", 20, seed=5))
    memory = MemoryKeywords(reader)
    await memory.current(workspace)
    await ingest_all(any_services.indexer, workspace, documents("a", 20, seed=6))  # all twenty change
    async with any_services.sessions.begin() as session:
        await session.execute(delete(KeywordChange))  # as pruning would, for a long-idle reader
    await assert_agrees(memory, any_services, workspace)


async def test_a_deleted_workspace_has_no_keyword_hits(any_services: Services, reader: Sessions) -> None:
    async with any_services.sessions.begin() as session:
        workspace = await workspaces.create(session, "acme")
    await ingest_all(any_services.indexer, workspace, documents("a", 5, seed=8))
    memory = MemoryKeywords(reader)
    assert await memory.search(workspace, Analyzer().term_counts(" ".join(WORDS)), limit=10)
    async with any_services.sessions.begin() as session:
        await workspaces.remove(session, await workspaces.get(session, "acme"))
    assert await memory.search(workspace, Analyzer().term_counts(" ".join(WORDS)), limit=10) == []


async def test_the_change_log_is_pruned_and_a_reader_behind_it_reloads(
    any_services: Services, reader: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keyword, "KEPT_GENERATIONS", 5)
    async with any_services.sessions.begin() as session:
        workspace = await workspaces.create(session, "acme")
        await session.execute(
            update(Workspace).where(Workspace.id == workspace.id).values(keyword_generation=990)
        )
    memory = MemoryKeywords(reader)
    await memory.current(workspace)  # at generation 990
    for document in documents("a", 10, seed=9):  # one generation per upsert: 991 ... 1000
        await any_services.indexer.upsert(workspace, document)
    async with any_services.sessions() as session:
        kept = set((await session.scalars(select(KeywordChange.generation))).all())
    assert kept == {996, 997, 998, 999, 1000}  # pruned when generation 1000 was written
    await assert_agrees(memory, any_services, workspace)


async def test_public_flags_follow_acl_changes_made_elsewhere(
    any_services: Services, reader: Sessions
) -> None:
    """A document made private (or public) by another process: the next public-only search here knows,
    and every public-only search agrees with the one checked against the ACL in SQL."""
    async with any_services.sessions.begin() as session:
        workspace = await workspaces.create(session, "acme")
    docs = documents("p", 30, seed=21)
    private = [d.external_id for d in docs[::3]]
    await ingest_all(any_services.indexer, workspace, docs)
    memory = Retriever(reader, any_services.vectors, any_services.embedder, Analyzer())
    in_sql = Retriever(
        any_services.sessions,
        any_services.vectors,
        any_services.embedder,
        Analyzer(),
        RetrievalConfig(keyword_in_memory=False),
    )

    async def agree() -> set[str]:
        found: set[str] = set()
        for query in QUERIES:
            got = await memory.search(workspace, query, limit=30, access=Access(public_only=True))
            want = await in_sql.search(workspace, query, limit=30, access=Access(public_only=True))
            assert {h.chunk_id: h.score for h in got} == pytest.approx({h.chunk_id: h.score for h in want})
            found.update(h.document_id for h in got)
        return found

    assert set(private) <= await agree()  # all public, loaded whole
    made_private = [replace(d, acl=["group:hr"]) for d in docs if d.external_id in private]
    await ingest_all(any_services.indexer, workspace, made_private)
    assert not set(private) & await agree()  # replayed
    assert not set(private) & await agree()  # and again with nothing left to replay
    await ingest_all(any_services.indexer, workspace, [replace(made_private[0], acl=None)])
    assert private[0] in await agree()
