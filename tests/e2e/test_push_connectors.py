"""Push freshness with the real connectors: a Confluence webhook, a signed generic push and a Graph
notification lead the real Confluence, web and SharePoint connectors (in a real arq worker) to the changed
page, which becomes searchable; the worker's sync publishes DocumentChanged and the watching Slack channel
gets the alert. Loopback fakes stand in for Confluence, the web page, Graph (https) and Slack. The delay
from push to searchable is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from core import channels, push, watches, workspaces
from core.channels import Conversation
from core.embeddings import MiniLMEmbedder
from core.tables import Job, Source, SourcePush, Workspace
from hub import sources
from hub.app import create_app
from hub.container import Services
from hub.push import default_graph_resource
from hub.settings import ConnectorSettings, PushSettings, Settings, SlackSettings
from tests.conftest import FIXTURES
from tests.e2e.test_push import confluence_body, hub_signed, standard_signed
from tests.fakes.confluence import FakeConfluence, fake_confluence
from tests.fakes.graph import TOKEN as GRAPH_TOKEN
from tests.fakes.graph import fake_graph, org_link
from tests.fakes.slack import FakeSlack, fake_slack
from tests.support.live import LiveApp, serve
from tests.support.tls import SelfSigned, self_signed
from tests.support.workers import flush, running_worker

CONFLUENCE_SECRET = {"username": "bot@example.com", "password": "api-token-123"}


@dataclass
class WebPage:
    html: str = "<html><body><h1>Status</h1><p>All systems normal: canaryweb1.</p></body></html>"

    async def serve(self, request: Request) -> Response:
        return HTMLResponse(self.html)


@dataclass
class Connected:
    live: LiveApp
    http: httpx.AsyncClient
    wiki: FakeConfluence
    page: WebPage
    slack: FakeSlack
    workspace: Workspace
    confluence: Source
    web: Source
    secrets: dict[str, str]

    @property
    def services(self) -> Services:
        return self.live.services

    async def searchable(self, token: str, within_s: float = 90.0) -> float:
        start = time.monotonic()
        while time.monotonic() - start < within_s:
            hits = await self.services.retriever.search(self.workspace, token, limit=3)
            if any(token in hit.text for hit in hits):
                return time.monotonic() - start
            await asyncio.sleep(0.05)
        raise AssertionError(f"{token} was not searchable within {within_s}s")

    async def settled(self, within_s: float = 60.0) -> list[str]:
        """The sync jobs' statuses once none is queued or running any more."""
        deadline = time.monotonic() + within_s
        while (statuses := await _statuses(self.services)) and time.monotonic() < deadline:
            if all(s in ("done", "failed") for s in statuses):
                break
            await asyncio.sleep(0.1)
        return statuses

    async def confluence_push(self, page_id: str) -> None:
        body = confluence_body(page_id)
        url = f"/webhooks/confluence/{self.confluence.id}"
        response = await self.http.post(
            url, content=body, headers=hub_signed(self.secrets["confluence"], body)
        )
        assert response.status_code == 202, response.text

    async def generic_push(self) -> None:
        body = b'{"event": "page.changed"}'
        url = f"/webhooks/sources/{self.web.id}"
        response = await self.http.post(url, content=body, headers=standard_signed(self.secrets["web"], body))
        assert response.status_code == 202, response.text


@contextlib.asynccontextmanager
async def web_page() -> AsyncIterator[tuple[WebPage, str]]:
    page = WebPage()
    async with serve(Starlette(routes=[Route("/status", page.serve)])) as live:
        yield page, f"{live.base_url}/status"


async def add_sources(
    services: Services, wiki: FakeConfluence, page_url: str
) -> tuple[Workspace, Source, Source]:
    async with services.sessions.begin() as session:
        workspace = await workspaces.create(session, "acme")
    confluence = await sources.add(
        services,
        workspace,
        source_type="confluence",
        name="eng wiki",
        collection="handbook",
        config={"url": wiki.base_url, "space": wiki.space},
        secret=CONFLUENCE_SECRET,
    )
    web = await sources.add(
        services,
        workspace,
        source_type="web",
        name="status",
        collection="status",
        config={"urls": [page_url]},
    )
    return workspace, confluence, web


@pytest.fixture
async def connected(
    tmp_path: Path, redis_url: str, chroma_server: str, embedder: MiniLMEmbedder
) -> AsyncIterator[Connected]:
    await flush(redis_url)
    async with fake_confluence() as wiki, web_page() as (page, page_url), fake_slack() as slack:
        wiki.add(
            "101", "Onboarding", "<h2>Laptops</h2><p>Laptops are ordered by IT: canaryconf1.</p>", minute=0
        )
        settings = Settings(
            data_dir=tmp_path / "var",
            redis_url=redis_url,
            chroma_url=chroma_server,
            connectors=ConnectorSettings(allow_private_urls=True),
            push=PushSettings(debounce_s=0.3),
            slack=SlackSettings(
                signing_secret=SecretStr("8f742231b10e8888abcd99yyyzzz85a5"),
                bot_token=SecretStr("xoxb-test"),
                api_url=slack.api_url,
            ),
        )
        async with serve(create_app(settings, embedder=embedder)) as live:
            services = live.services
            workspace, confluence, web = await add_sources(services, wiki, page_url)
            secrets: dict[str, str] = {}
            async with services.sessions.begin() as session:
                for name, source in (("confluence", confluence), ("web", web)):
                    secrets[name] = await push.enable(session, services.fernet, source)
            async with (
                httpx.AsyncClient(base_url=live.base_url, timeout=30) as http,
                running_worker(settings, embedder),
            ):
                yield Connected(live, http, wiki, page, slack, workspace, confluence, web, secrets)


async def watch_handbook(world: Connected) -> None:
    conversation = Conversation("slack", "TACME", "CACME")
    async with world.services.sessions.begin() as session:
        await channels.map_channel(
            session, platform="slack", team_id="TACME", channel_id="CACME", workspace=world.workspace
        )
        scope = await channels.resolve(session, conversation)
        await watches.add(session, scope, watches.Watcher("slack", "TACME", "CACME"), "handbook")


def alerts(slack: FakeSlack) -> list[dict[str, Any]]:
    return [
        c.params for c in slack.calls if c.method == "chat.postMessage" and c.params.get("channel") == "CACME"
    ]


@pytest.mark.slow
async def test_pushes_through_the_real_connectors_make_changes_searchable_and_alert(
    connected: Connected,
) -> None:
    world = connected
    await world.confluence_push("101")  # the first push runs the first (full) sync
    await world.searchable("canaryconf1")
    await world.generic_push()
    await world.searchable("canaryweb1")
    await watch_handbook(world)

    world.wiki.add(
        "105", "Deploy freeze", "<p>Deploys freeze on Fridays after noon: canaryconf77.</p>", minute=30
    )
    started = time.monotonic()
    await world.confluence_push("105")
    confluence_s = await world.searchable("canaryconf77")
    world.page.html = "<html><body><h1>Status</h1><p>Degraded: the VPN is slow, canaryweb2.</p></body></html>"
    await world.generic_push()
    web_s = await world.searchable("canaryweb2")
    print(
        f"\npush delay with the real connectors (debounce 0.3s): confluence {confluence_s * 1000:.0f} ms, "
        f"generic/web {web_s * 1000:.0f} ms"
    )

    await world.slack.wait(lambda: alerts(world.slack))
    shown = json.dumps(alerts(world.slack))
    assert "Deploy freeze" in shown and "was added" in shown and "Watching *handbook*" in shown
    assert time.monotonic() - started < 60
    assert all("canaryweb" not in json.dumps(a) for a in alerts(world.slack))  # status is not watched
    assert await world.settled() == ["done"] * 4


async def _statuses(services: Services) -> list[str]:
    async with services.sessions() as session:
        return list(
            (await session.scalars(select(Job.status).where(Job.kind == "sync").order_by(Job.id))).all()
        )


@pytest.fixture
def tls(tmp_path: Path) -> SelfSigned:
    return self_signed(tmp_path / "tls")


@pytest.mark.slow
async def test_a_graph_notification_syncs_sharepoint_through_the_real_connector(
    tmp_path: Path, redis_url: str, chroma_server: str, embedder: MiniLMEmbedder, tls: SelfSigned
) -> None:
    """The real SharePoint connector (msal + Graph delta over https to the loopback fake) runs on a Graph
    notification; the Graph token port used for subscriptions comes from the same credentials."""
    await flush(redis_url)
    settings = Settings(
        data_dir=tmp_path / "var",
        redis_url=redis_url,
        chroma_url=chroma_server,
        connectors=ConnectorSettings(allow_private_urls=True, ca_bundle=tls.cert),
        push=PushSettings(debounce_s=0.3),
    )
    async with fake_graph(tls) as drive, serve(create_app(settings, embedder=embedder)) as live:
        drive.put("i1", "holidays.txt", b"Holiday policy: 25 days of paid leave, canarysp1.", [org_link()])
        services = live.services
        async with services.sessions.begin() as session:
            workspace = await workspaces.create(session, "contoso")
        config = {
            "tenant_id": drive.tenant,
            "client_id": "app-1",
            "drive_id": drive.drive,
            "graph_url": drive.graph_url,
            "authority_host": drive.base_url,
        }
        source = await sources.add(
            services,
            workspace,
            source_type="sharepoint",
            name="docs",
            collection="drive",
            config=config,
            secret={"client_secret": drive.client_secret},
        )
        async with services.sessions.begin() as session:
            resource = default_graph_resource(source)  # what `push enable` and the REST route subscribe
            secret = await push.enable(session, services.fernet, source, graph_resource=resource)
            row = await session.get(SourcePush, source.id)
            assert row is not None and row.graph_resource == f"drives/{drive.drive}/root"  # the default
            row.graph_subscription_id = "sub-contoso-1"  # created by the renewal job (tests/e2e/test_push.py)
        assert services.ports.graph_token is not None
        assert await services.ports.graph_token(source) == GRAPH_TOKEN
        body = json.loads((FIXTURES / "graph" / "change_notification_drive.json").read_text())
        body["value"][0].update(subscriptionId="sub-contoso-1", clientState=secret)
        async with (
            httpx.AsyncClient(base_url=live.base_url, timeout=30) as http,
            running_worker(settings, embedder),
        ):
            world = Connected(
                live, http, FakeConfluence(), WebPage(), FakeSlack(), workspace, source, source, {}
            )
            assert (await http.post("/webhooks/graph", json=body)).status_code == 202
            await world.searchable("canarysp1")
            drive.put(
                "i2", "travel.txt", b"Travel policy: book trains under four hours, canarysp2.", [org_link()]
            )
            started = time.monotonic()
            assert (await http.post("/webhooks/graph", json=body)).status_code == 202
            delay = await world.searchable("canarysp2")
            print(f"\npush delay, real SharePoint connector (debounce 0.3s): graph {delay * 1000:.0f} ms")
            assert time.monotonic() - started < 60
            assert await world.settled() == ["done", "done"]
