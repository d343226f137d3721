"""A starting process loads every workspace's keyword index before the first search asks for it, and a
workspace that fails to load is left to its first search."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core import workspaces
from core.indexing import ingest_all
from core.keyword_memory import MemoryKeywords, WorkspaceKeywords
from core.tables import Workspace
from hub.container import Services
from hub.warmup import keywords_warming
from tests.integration.test_retrieval import CORPUS, ids


async def test_indexes_are_loaded_before_the_first_search(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with services.sessions.begin() as session:
        broken = await workspaces.create(session, "broken")
        acme = await workspaces.create(session, "acme")
    await ingest_all(services.indexer, acme, CORPUS)
    loads: list[str] = []
    loaded = asyncio.Event()
    real_load = MemoryKeywords._load

    async def counted(self: MemoryKeywords, workspace: Workspace) -> WorkspaceKeywords:
        loads.append(workspace.name)
        if workspace.name == "broken":
            raise ConnectionError("database went away")
        index = await real_load(self, workspace)
        loaded.set()
        return index

    monkeypatch.setattr(MemoryKeywords, "_load", counted)
    async with keywords_warming(services):
        await asyncio.wait_for(loaded.wait(), 30)
        await asyncio.sleep(0)  # the warming task stores the index right after the load returns
    assert loads == ["broken", "acme"]

    assert (await ids(services, acme, "London"))[0] == "hotel.csv"
    assert loads == ["broken", "acme"]  # served from the warmed index
    monkeypatch.setattr(MemoryKeywords, "_load", real_load)
    assert await ids(services, broken, "London") == []  # loaded on its first search instead


async def test_warming_stops_with_the_process(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    async with services.sessions.begin() as session:
        await workspaces.create(session, "acme")
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def endless(self: MemoryKeywords, workspace: Workspace) -> Any:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def serve_briefly() -> None:
        async with keywords_warming(services):
            await started.wait()

    monkeypatch.setattr(MemoryKeywords, "_load", endless)
    await asyncio.wait_for(serve_briefly(), 10)  # leaving the block does not wait for the load
    assert cancelled.is_set()
