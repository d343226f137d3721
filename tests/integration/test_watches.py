"""Watches and who an alert goes to, on SQLite and PostgreSQL: a channel watches only its workspace's
things, alerts follow the channel's current mapping, restricted documents are never announced, and a
removed document's watchers hear about it once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from redis.asyncio import Redis

from bots.alerts import Alert, ChangeAlerts
from core import channels, watches, workspaces
from core.channels import Conversation
from core.errors import NotFound
from core.events import DocumentChanged
from core.indexing import IncomingDocument
from core.ratelimit import Rate, RateLimiter
from core.tables import Watch
from hub.container import Services

ALPHA = Conversation("slack", "T1", "CALPHA")
NARROW = Conversation("slack", "T1", "CNARROW")
BETA = Conversation("slack", "T1", "CBETA")


@dataclass
class Recorder:
    sent: list[tuple[str, Alert]] = field(default_factory=list)

    async def send(self, watch: Watch, alert: Alert) -> None:
        self.sent.append((watch.channel_id, alert))


def watcher(conversation: Conversation) -> watches.Watcher:
    return watches.Watcher(conversation.platform, str(conversation.team_id), conversation.channel_id)


async def setup(services: Services) -> None:
    async with services.sessions.begin() as session:
        alpha = await workspaces.create(session, "alpha")
        beta = await workspaces.create(session, "beta")
    docs = [
        IncomingDocument("runbook.md", b"# Failover\n\nPromote the replica.", collection="runbooks"),
        IncomingDocument("pto.md", b"# Leave\n\nTwenty days a year.", collection="hr"),
        IncomingDocument("salaries.md", b"# Salaries\n\nBands.", collection="hr", acl=["ceo@example.com"]),
    ]
    for doc in docs:
        await services.indexer.upsert(alpha, doc)
    await services.indexer.upsert(
        beta, IncomingDocument("pager.md", b"# Pager\n\nPage the SRE.", collection="hr")
    )
    async with services.sessions.begin() as session:
        for conversation, workspace, only in [
            (ALPHA, alpha, None),
            (NARROW, alpha, ["runbooks"]),
            (BETA, beta, None),
        ]:
            await channels.map_channel(
                session,
                platform="slack",
                team_id="T1",
                channel_id=conversation.channel_id,
                workspace=workspace,
                collections=only,
            )


async def watch(services: Services, conversation: Conversation, name: str) -> Watch:
    async with services.sessions.begin() as session:
        scope = await channels.resolve(session, conversation)
        found, _ = await watches.add(session, scope, watcher(conversation), name)
    return found


async def test_a_channel_watches_only_what_its_scope_holds(any_services: Services) -> None:
    await setup(any_services)
    assert (await watch(any_services, ALPHA, "hr")).collection_id is not None
    assert (await watch(any_services, ALPHA, "failover")).document_id is not None  # by title, any case
    assert (await watch(any_services, ALPHA, "pto.md")).label == "Leave"  # by external id
    for conversation, name in [
        (ALPHA, "pager.md"),  # beta's document
        (ALPHA, "salaries.md"),  # restricted by an ACL
        (NARROW, "hr"),  # outside the channel's mapped collections
        (NARROW, "pto.md"),
        (ALPHA, "nothing"),
    ]:
        with pytest.raises(NotFound):
            await watch(any_services, conversation, name)
    async with any_services.sessions.begin() as session:
        scope = await channels.resolve(session, ALPHA)
        _, created = await watches.add(session, scope, watcher(ALPHA), "hr")
        assert not created
        assert [w.label for w in await watches.of_channel(session, scope, watcher(ALPHA))] == [
            "hr",
            "Failover",
            "Leave",
        ]
        assert await watches.remove(session, scope, watcher(ALPHA), "LEAVE") == "Leave"


async def test_alerts_follow_the_current_mapping_and_skip_restricted_documents(
    any_services: Services,
) -> None:
    await setup(any_services)
    await watch(any_services, ALPHA, "hr")
    await watch(any_services, BETA, "hr")
    recorder = Recorder()
    any_services.events.subscribe(ChangeAlerts(any_services.sessions, {"slack": recorder}))
    async with any_services.sessions() as session:
        alpha = await workspaces.get(session, "alpha")
    await any_services.indexer.upsert(
        alpha, IncomingDocument("pto.md", b"# Leave\n\nThirty days a year.", collection="hr")
    )
    assert [(c, a.change, a.title, a.summary) for c, a in recorder.sent] == [
        ("CALPHA", "changed", "Leave", "+1 line, -1 line: Thirty days a year.")
    ]
    await any_services.indexer.upsert(
        alpha,
        IncomingDocument(
            "salaries.md", b"# Salaries\n\nNew bands.", collection="hr", acl=["ceo@example.com"]
        ),
    )
    assert len(recorder.sent) == 1  # a restricted document is never announced to a channel

    async with any_services.sessions.begin() as session:  # CALPHA now answers from beta
        beta = await workspaces.get(session, "beta")
        await channels.map_channel(
            session, platform="slack", team_id="T1", channel_id="CALPHA", workspace=beta
        )
    await any_services.indexer.upsert(
        alpha, IncomingDocument("pto.md", b"# Leave\n\nForty days.", collection="hr")
    )
    assert len(recorder.sent) == 1


async def test_a_removed_document_is_announced_once_and_its_watch_goes(any_services: Services) -> None:
    await setup(any_services)
    watched = await watch(any_services, ALPHA, "runbook.md")
    recorder = Recorder()
    any_services.events.subscribe(ChangeAlerts(any_services.sessions, {"slack": recorder}))
    async with any_services.sessions() as session:
        alpha = await workspaces.get(session, "alpha")
    assert await any_services.indexer.delete(alpha, "upload", "runbook.md")
    assert [(c, a.change, a.title) for c, a in recorder.sent] == [("CALPHA", "removed", "Failover")]
    async with any_services.sessions() as session:
        assert await session.get(Watch, watched.id) is None
    removed = [
        e for e in any_services.events.events if isinstance(e, DocumentChanged) and e.change == "removed"
    ]
    assert len(removed) == 1 and removed[0].summary == "removed"


async def test_a_channel_gets_at_most_its_rate_of_alerts(services: Services, redis_url: str) -> None:
    await setup(services)
    await watch(services, ALPHA, "hr")
    recorder = Recorder()
    redis = Redis.from_url(redis_url)
    try:
        limiter = RateLimiter(redis, prefix=f"test:{uuid.uuid4().hex}")
        alerts = ChangeAlerts(services.sessions, {"slack": recorder}, limiter=limiter, rate=Rate(2, 60))
        services.events.subscribe(alerts)
        async with services.sessions() as session:
            alpha = await workspaces.get(session, "alpha")
        batch = [
            IncomingDocument(f"new-{i}.md", f"# New {i}\n\nPolicy {i}.".encode(), collection="hr")
            for i in range(4)
        ]
        await services.indexer.upsert_many(alpha, batch)
    finally:
        await redis.aclose()
    assert [a.title for _, a in recorder.sent] == ["New 0", "New 1"]  # a big first sync does not flood
