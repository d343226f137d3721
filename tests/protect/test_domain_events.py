"""The events outbound webhooks subscribe to are really published: a sync's document changes (announced
by the indexer) and its completion or failure, and a 👎 on a delivered chat answer (SQLite, real services)."""

from __future__ import annotations

from typing import Any

import pytest

from bots.commands import Commands
from bots.identity import ChatOrigin
from core import channels, chat_answers, workspaces
from core.errors import AuthError
from core.events import AnswerFlagged, DocumentChanged, SyncCompleted, SyncFailed
from core.indexing import IncomingDocument, ingest_all
from core.jobs import ItemResult, JobRecorder, Report
from core.models import Answer, Asker
from core.tables import Collection, Job, Source
from hub.container import Services
from hub.source_jobs import run_sync


class NoEvents:
    async def publish(self, snapshot: dict[str, Any]) -> None:
        return None


async def sync_job(services: Services) -> tuple[Source, Job]:
    async with services.sessions.begin() as session:
        ws = await workspaces.create(session, "alpha")
        collection = Collection(workspace_id=ws.id, name="wiki")
        session.add(collection)
        await session.flush()
        source = Source(workspace_id=ws.id, collection_id=collection.id, type="fake", name="wiki")
        session.add(source)
        await session.flush()
        job = Job(workspace_id=ws.id, kind="sync", params={"source_id": source.id})
        session.add(job)
    return source, job


async def test_a_sync_announces_each_changed_document_and_its_completion(services: Services) -> None:
    async def syncer(source: Source, report: Report) -> None:
        async with services.sessions() as session:
            workspace = await workspaces.get(session, "alpha")
        document = IncomingDocument(
            "a.md", b"# A\n\nThe VPN needs a token.", collection="wiki", source="fake"
        )
        results = await ingest_all(services.indexer, workspace, [document])
        await report([ItemResult(r.external_id, r.status) for r in results])

    services.ports.syncers["fake"] = syncer
    source, job = await sync_job(services)
    await run_sync(services, JobRecorder(services.sessions, NoEvents(), job.id), job)
    changed, completed = services.events.events
    assert isinstance(changed, DocumentChanged)
    assert (changed.external_id, changed.change, changed.public) == ("a.md", "added", True)
    assert completed == SyncCompleted("alpha", source.id, "wiki", {"created": 1})


async def test_a_failed_sync_is_announced(services: Services) -> None:
    async def syncer(source: Source, report: Report) -> None:
        raise AuthError("token revoked")

    services.ports.syncers["fake"] = syncer
    source, job = await sync_job(services)
    with pytest.raises(AuthError):
        await run_sync(services, JobRecorder(services.sessions, NoEvents(), job.id), job)
    assert services.events.events == [SyncFailed("alpha", source.id, "wiki", "token revoked", False)]


async def test_thumbs_down_is_announced_without_personal_data(services: Services) -> None:
    async with services.sessions.begin() as session:
        ws = await workspaces.create(session, "alpha")
        await channels.map_channel(session, platform="slack", team_id="T1", channel_id="C1", workspace=ws)
        answer = Answer(
            workspace="alpha",
            question="q?",
            answer="a",
            abstained=False,
            confidence=1.0,
            mode="extractive",
            citations=[],
            related_questions=[],
            model="x",
        )
        row = await chat_answers.record(session, ws, Asker(platform="slack", user_id="U1"), answer)
    commands = Commands(services.sessions, services.asker, events=services.events)
    origin = ChatOrigin(platform="slack", team_id="T1", channel_id="C1", user_id="U2")
    await commands.feedback(origin, row.token, 1)
    assert services.events.events == []
    await commands.feedback(origin, row.token, -1)
    assert services.events.events == [AnswerFlagged("alpha", row.token, "slack", ())]
