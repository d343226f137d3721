"""Push freshness end to end: the real app under uvicorn, a real arq worker, real Redis and Chroma.

A fake syncer (registered in ``JobPorts.syncers``, as the connectors will be) reads a dict standing for
the remote system. A Graph notification, a Confluence webhook and a signed generic push each make the
changed document searchable; the delay from notification to searchable is printed (not asserted).
Forged, stale and replayed pushes are refused with nothing queued; a burst collapses into one sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select
from standardwebhooks import Webhook

from core import apikeys, push, workspaces
from core.embeddings import MiniLMEmbedder
from core.indexing import IncomingDocument, ensure_collection
from core.jobs import ItemResult, Report
from core.tables import Job, Source, SourcePush, Workspace
from hub.app import create_app
from hub.background import alongside
from hub.container import Services
from hub.queue import QUEUE
from hub.settings import PushSettings, Settings
from hub.worker import build_worker
from tests.conftest import FIXTURES
from tests.fakes.graph_subscriptions import FakeGraphSubscriptions, fake_graph_subscriptions
from tests.support.live import LiveApp, serve
from tests.support.workers import flush

DEBOUNCE_S = 0.3


@dataclass
class Remote:
    """The external systems: per source type, external id -> text. ``syncs`` counts syncs per source."""

    pages: dict[str, dict[str, str]] = field(default_factory=dict)
    syncs: Counter[int] = field(default_factory=Counter)

    def syncer(self, services: Services) -> Any:
        async def sync(source: Source, report: Report) -> None:
            self.syncs[source.id] += 1
            async with services.sessions() as session:
                workspace = await session.get(Workspace, source.workspace_id)
            assert workspace is not None
            for external_id, text in self.pages.get(source.type, {}).items():
                incoming = IncomingDocument(
                    external_id, text.encode(), f"{external_id}.md", source=source.type, source_id=source.id
                )
                result = await services.indexer.upsert(workspace, incoming)
                await report([ItemResult(external_id, result.status)])

        return sync


@dataclass
class PushWorld:
    live: LiveApp
    http: httpx.AsyncClient
    remote: Remote
    graph: FakeGraphSubscriptions
    workspace: Workspace
    sources: dict[str, Source]
    secrets: dict[str, str]
    redis: Redis

    @property
    def services(self) -> Services:
        return self.live.services

    async def sync_jobs(self) -> list[Job]:
        async with self.services.sessions() as session:
            return list((await session.scalars(select(Job).where(Job.kind == "sync"))).all())

    async def settled(self, within_s: float = 60.0) -> list[str]:
        """The sync jobs' statuses once none is queued or running any more."""
        deadline = time.monotonic() + within_s
        while True:
            statuses = [j.status for j in await self.sync_jobs()]
            if all(s in ("done", "failed") for s in statuses) or time.monotonic() > deadline:
                return statuses
            await asyncio.sleep(0.1)

    async def queued(self) -> int:
        """Jobs waiting in the queue, not counting the worker's own cron jobs: arq queues each up to a
        second before it is due (refresh_sources every minute), so counting them made this flaky."""
        return sum(not member.startswith(b"cron:") for member in await self.redis.zrange(QUEUE, 0, -1))

    async def searchable(self, token: str, within_s: float = 60.0) -> float:
        """Seconds until a search finds ``token`` (polled every 50 ms)."""
        start = time.monotonic()
        while time.monotonic() - start < within_s:
            hits = await self.services.retriever.search(self.workspace, token, limit=3)
            if any(token in hit.text for hit in hits):
                return time.monotonic() - start
            await asyncio.sleep(0.05)
        raise AssertionError(f"{token} was not searchable within {within_s}s")


async def add_source(services: Services, workspace: Workspace, kind: str) -> tuple[Source, str]:
    async with services.sessions.begin() as session:
        collection_id = await ensure_collection(session, workspace.id, kind)
        source = Source(
            workspace_id=workspace.id, collection_id=collection_id, type=kind, name=f"{kind} source"
        )
        session.add(source)
        await session.flush()
        graph = "drives/b!drive-id/root" if kind == "sharepoint" else None
        secret = await push.enable(session, services.fernet, source, graph_resource=graph)
    return source, secret


@contextlib.asynccontextmanager
async def worker_for(settings: Settings, embedder: MiniLMEmbedder, remote: Remote) -> AsyncIterator[None]:
    """A real arq worker in this loop, with the fake syncers and a Graph token registered at start-up."""
    worker = build_worker(settings, signals=False, embedder=embedder)
    original = worker.on_startup
    assert original is not None

    async def graph_token(source: Source) -> str:
        return "graph-test-token"

    async def startup(ctx: dict[str, Any]) -> None:
        await original(ctx)
        services: Services = ctx["services"]
        for kind in ("confluence", "sharepoint", "web"):
            services.ports.syncers[kind] = remote.syncer(services)
        services.ports.graph_token = graph_token

    worker.on_startup = startup
    try:
        async with alongside(worker.async_run()):
            yield
    finally:
        await worker.close()


@pytest.fixture
async def world(
    tmp_path: Path, redis_url: str, chroma_server: str, embedder: MiniLMEmbedder
) -> AsyncIterator[PushWorld]:
    await flush(redis_url)
    remote = Remote()
    async with fake_graph_subscriptions() as graph:
        settings = Settings(
            data_dir=tmp_path / "var",
            redis_url=redis_url,
            chroma_url=chroma_server,
            push=PushSettings(debounce_s=DEBOUNCE_S, graph_api_url=f"{graph.base_url}/v1.0"),
        )
        async with serve(create_app(settings, embedder=embedder)) as live:
            services = live.services
            async with services.sessions.begin() as session:
                workspace = await workspaces.create(session, "acme")
            sources, secrets = {}, {}
            for kind in ("confluence", "sharepoint", "web"):
                sources[kind], secrets[kind] = await add_source(services, workspace, kind)
            public = settings.model_copy(
                update={"push": settings.push.model_copy(update={"public_url": live.base_url})}
            )
            redis = Redis.from_url(redis_url)
            async with (
                httpx.AsyncClient(base_url=live.base_url, timeout=30) as http,
                worker_for(public, embedder, remote),
            ):
                try:
                    yield PushWorld(live, http, remote, graph, workspace, sources, secrets, redis)
                finally:
                    await redis.aclose()


def hub_signed(secret: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature": f"sha256={digest}", "Content-Type": "application/json"}


def standard_signed(
    secret: str, body: bytes, *, msg_id: str | None = None, at: datetime | None = None
) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, at, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "Content-Type": "application/json",
    }


def confluence_body(page_id: str) -> bytes:
    body = json.loads((FIXTURES / "confluence" / "webhook_page_updated.json").read_text())
    body["page"]["id"] = page_id
    return json.dumps(body).encode()


async def graph_subscription(world: PushWorld) -> str:
    """The subscription the worker's renewal job created at start-up (after Graph's handshake)."""
    for _ in range(400):
        async with world.services.sessions() as session:
            row = await session.get(SourcePush, world.sources["sharepoint"].id, populate_existing=True)
        if row is not None and row.graph_subscription_id:
            return row.graph_subscription_id
        await asyncio.sleep(0.05)
    raise AssertionError(f"no Graph subscription was created: {world.graph.calls}")


def graph_body(subscription_id: str, client_state: str) -> bytes:
    body = json.loads((FIXTURES / "graph" / "change_notification_drive.json").read_text())
    body["value"][0].update(subscriptionId=subscription_id, clientState=client_state)
    return json.dumps(body).encode()


async def test_graph_confluence_and_generic_pushes_make_the_change_searchable(world: PushWorld) -> None:
    delays: dict[str, float] = {}
    subscription = await graph_subscription(world)
    assert world.graph.tokens == ["Bearer graph-test-token"]
    assert world.graph.subscriptions[subscription]["notificationUrl"].endswith("/webhooks/graph")

    world.remote.pages["sharepoint"] = {"handbook": "The office wifi password rotates; ask for canarygraph7."}
    started = time.monotonic()
    response = await world.http.post(
        "/webhooks/graph", content=graph_body(subscription, world.secrets["sharepoint"])
    )
    assert response.status_code == 202, response.text
    assert time.monotonic() - started < 3
    delays["graph"] = await world.searchable("canarygraph7")

    world.remote.pages["confluence"] = {"1188560897": "Deploys freeze on Fridays after noon: canaryconf42."}
    body = confluence_body("1188560897")
    response = await world.http.post(
        f"/webhooks/confluence/{world.sources['confluence'].id}",
        content=body,
        headers=hub_signed(world.secrets["confluence"], body),
    )
    assert response.status_code == 202, response.text
    delays["confluence"] = await world.searchable("canaryconf42")

    world.remote.pages["web"] = {"status": "The status page moved to status.example.com: canaryweb99."}
    body = b'{"type": "page.updated", "id": "status"}'
    response = await world.http.post(
        f"/webhooks/sources/{world.sources['web'].id}",
        content=body,
        headers=standard_signed(world.secrets["web"], body),
    )
    assert response.status_code == 202, response.text
    delays["generic"] = await world.searchable("canaryweb99")

    assert await world.settled() == ["done"] * 3
    jobs = await world.sync_jobs()
    assert sorted(j.params["reason"] for j in jobs) == ["confluence", "graph", "push"]
    assert [j.params.get("page_id") for j in jobs if j.params["reason"] == "confluence"] == ["1188560897"]
    print(
        "\npush delay, notification -> searchable (debounce "
        f"{DEBOUNCE_S}s): " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in delays.items())
    )


async def test_forged_bad_stale_and_replayed_pushes_are_refused_with_nothing_queued(world: PushWorld) -> None:
    subscription = await graph_subscription(world)
    http, sources, secrets = world.http, world.sources, world.secrets

    forged = await http.post("/webhooks/graph", content=graph_body(subscription, "not-the-client-state"))
    assert forged.status_code == 403
    unknown = await http.post(
        "/webhooks/graph", content=graph_body("no-such-subscription", secrets["sharepoint"])
    )
    assert unknown.status_code == 403

    body = confluence_body("42")
    bad = await http.post(
        f"/webhooks/confluence/{sources['confluence'].id}",
        content=body,
        headers=hub_signed("whsec_wrong", body),
    )
    assert bad.status_code == 401
    other_key = await http.post(  # another source's secret does not sign for this one
        f"/webhooks/confluence/{sources['confluence'].id}",
        content=body,
        headers=hub_signed(secrets["web"], body),
    )
    assert other_key.status_code == 401
    unsigned = await http.post(f"/webhooks/confluence/{sources['confluence'].id}", content=body)
    assert unsigned.status_code == 401

    generic = f"/webhooks/sources/{sources['web'].id}"
    payload = b'{"changed": "status"}'
    stale_at = datetime.fromtimestamp(time.time() - 301, UTC)
    stale = await http.post(
        generic, content=payload, headers=standard_signed(secrets["web"], payload, at=stale_at)
    )
    assert stale.status_code == 401 and "too old" in stale.text
    future_at = datetime.fromtimestamp(time.time() + 301, UTC)
    future = await http.post(
        generic, content=payload, headers=standard_signed(secrets["web"], payload, at=future_at)
    )
    assert future.status_code == 401 and "too new" in future.text
    tampered = standard_signed(secrets["web"], payload)
    assert (await http.post(generic, content=b'{"changed": "other"}', headers=tampered)).status_code == 401
    malformed = {**standard_signed(secrets["web"], payload), "webhook-signature": "garbage"}
    assert (await http.post(generic, content=payload, headers=malformed)).status_code == 401
    assert (await http.post("/webhooks/sources/999999", content=payload)).status_code == 404
    assert (await http.post("/webhooks/graph", content=b"not json")).status_code == 400
    assert await world.sync_jobs() == [] and await world.queued() == 0

    first = standard_signed(secrets["web"], payload, msg_id="msg_replayed")
    assert (await http.post(generic, content=payload, headers=first)).status_code == 202
    replay = await http.post(generic, content=payload, headers=first)
    assert replay.status_code == 409 and "already delivered" in replay.text
    assert len(await world.sync_jobs()) == 1  # only the first delivery queued a sync


async def test_the_graph_validation_handshake_echoes_the_token(world: PushWorld) -> None:
    token = "Validation: Testing client application reachability for subscription Request-Id: 1a2b"
    response = await world.http.post("/webhooks/graph", params={"validationToken": token})
    assert response.status_code == 200 and response.text == token
    assert response.headers["content-type"].startswith("text/plain")


async def test_fifty_identical_notifications_in_a_burst_make_one_sync(world: PushWorld) -> None:
    world.remote.pages["confluence"] = {"burst": "One sync for the whole burst: canaryburst5."}
    source = world.sources["confluence"]
    body = confluence_body("77")
    headers = hub_signed(world.secrets["confluence"], body)
    url = f"/webhooks/confluence/{source.id}"
    responses = await asyncio.gather(
        *(world.http.post(url, content=body, headers=headers) for _ in range(50))
    )
    assert [r.status_code for r in responses] == [202] * 50
    await world.searchable("canaryburst5")
    await asyncio.sleep(DEBOUNCE_S + 1.0)  # any second sync would have started by now
    assert world.remote.syncs[source.id] == 1
    assert await world.settled() == ["done"]
    async with world.services.sessions() as session:
        count = await session.scalar(select(func.count()).select_from(Job).where(Job.kind == "sync"))
    assert count == 1


async def test_the_renewal_job_renews_before_expiry_and_recreates_a_dropped_subscription(
    world: PushWorld,
) -> None:
    first = await graph_subscription(world)
    services = world.services
    source = world.sources["sharepoint"]
    async with services.sessions.begin() as session:  # about to expire: the next run renews it
        row = await session.get(SourcePush, source.id)
        assert row is not None
        row.graph_expires_at = datetime.now(UTC)
    from hub.push import renew_graph_subscriptions

    ports, settings = services.ports, services.settings
    services.ports = type(ports)(graph_token=lambda s: _token())
    services.settings = settings.model_copy(
        update={"push": settings.push.model_copy(update={"public_url": world.live.base_url})}
    )
    try:
        assert await renew_graph_subscriptions({"services": services}) == 1
        assert ("PATCH", f"/subscriptions/{first}") in world.graph.calls
        async with services.sessions() as session:
            renewed = await session.get(SourcePush, source.id, populate_existing=True)
        assert renewed is not None and renewed.graph_subscription_id == first
        assert renewed.graph_expires_at is not None
        del world.graph.subscriptions[first]  # Graph dropped it
        async with services.sessions.begin() as session:
            row = await session.get(SourcePush, source.id)
            assert row is not None
            row.graph_expires_at = datetime.now(UTC)
        await renew_graph_subscriptions({"services": services})
        async with services.sessions() as session:
            recreated = await session.get(SourcePush, source.id, populate_existing=True)
        assert recreated is not None and recreated.graph_subscription_id not in (None, first)
    finally:
        services.ports, services.settings = ports, settings


async def _token() -> str:
    return "graph-test-token"


async def test_rest_turns_push_on_and_off_for_admins_of_the_sources_workspace(world: PushWorld) -> None:
    async with world.services.sessions.begin() as session:
        other = await workspaces.create(session, "other")
        _, admin = await apikeys.create(session, world.workspace, "admin")
        _, viewer = await apikeys.create(session, world.workspace, "viewer")
        _, outsider = await apikeys.create(session, other, "admin")
    web = world.sources["web"].id
    url = f"/api/v1/workspaces/acme/sources/{web}/push"

    def auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    assert (await world.http.post(url, json={}, headers=auth(viewer))).status_code == 403
    assert (await world.http.post(url, json={}, headers=auth(outsider))).status_code == 404
    other_url = f"/api/v1/workspaces/other/sources/{web}/push"  # another workspace's source id
    assert (await world.http.post(other_url, json={}, headers=auth(outsider))).status_code == 404
    bad = await world.http.post(url, json={"graph_resource": "drives/x root"}, headers=auth(admin))
    assert bad.status_code == 422

    enabled = await world.http.post(url, json={}, headers=auth(admin))
    assert enabled.status_code == 201, enabled.text
    secret = enabled.json()["secret"]
    assert enabled.json()["generic_url"].endswith(f"/webhooks/sources/{web}")
    body = b"{}"
    old = await world.http.post(
        f"/webhooks/sources/{web}", content=body, headers=standard_signed(world.secrets["web"], body)
    )
    assert old.status_code == 401  # rotated: the old secret signs nothing any more
    new = await world.http.post(
        f"/webhooks/sources/{web}", content=body, headers=standard_signed(secret, body)
    )
    assert new.status_code == 202
    shown = await world.http.get(url, headers=auth(viewer))
    assert shown.status_code == 200 and "secret" not in shown.json()

    assert (await world.http.delete(url, headers=auth(admin))).status_code == 204
    gone = await world.http.post(
        f"/webhooks/sources/{web}", content=body, headers=standard_signed(secret, body)
    )
    assert gone.status_code == 404
    assert (await world.http.get(url, headers=auth(viewer))).status_code == 404
