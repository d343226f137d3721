"""Shared world for the Slack end-to-end tests: the real app under uvicorn with Slack configured, a
loopback fake Slack Web API, and workspaces alpha/beta/gamma mapped to channels of one random team.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from arq.worker import Worker
from pydantic import SecretStr

from core import channels, workspaces
from core.ask import AskService
from core.embeddings import MiniLMEmbedder
from core.indexing import IncomingDocument, ingest_all
from core.models import Question
from hub.app import create_app
from hub.settings import Settings, SlackSettings
from tests.fakes.slack import FakeSlack, fake_slack
from tests.support import slack as payloads
from tests.support.live import LiveApp, serve
from tests.support.workers import flush, running_worker

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # the signing secret of Slack's documented test vector
FORM = "application/x-www-form-urlencoded"
ADMIN = "UADMIN"


@dataclass
class World:
    live: LiveApp
    fake: FakeSlack
    http: httpx.AsyncClient
    team: str
    questions: list[Question] = field(default_factory=list)
    seq: int = 0
    worker: Worker | None = None  # the arq worker answering this world's chat turns

    async def post(self, body: str, content_type: str, **sign: Any) -> httpx.Response:
        headers = payloads.signed_headers(SECRET, body, content_type=content_type, **sign)
        return await self.http.post("/slack/events", content=body, headers=headers)

    def key(self) -> str:
        self.seq += 1
        return f"r{self.seq}"

    async def command(self, text: str, *, channel: str = "CALPHA", user: str = "U1") -> dict[str, Any]:
        """/ask <text>: the ack is immediate and empty; the reply arrives at the response_url."""
        key = self.key()
        body = payloads.slash_command(
            team=self.team, channel=channel, user=user, text=text, response_url=self.fake.response_url(key)
        )
        response = await self.post(body, FORM)
        assert response.status_code == 200 and response.text == ""
        await self.fake.wait(lambda: key in self.fake.responses)
        return self.fake.responses[key][0]

    async def click(
        self,
        action_id: str,
        value: str,
        *,
        channel: str = "CALPHA",
        user: str = "U1",
        ephemeral: bool = True,
        thread_ts: str | None = None,
    ) -> str:
        key = self.key()
        body = payloads.block_action(
            team=self.team,
            channel=channel,
            user=user,
            action_id=action_id,
            value=value,
            response_url=self.fake.response_url(key),
            ephemeral=ephemeral,
            thread_ts=thread_ts,
        )
        response = await self.post(body, FORM)
        assert response.status_code == 200
        return key

    async def event(self, **fields: Any) -> None:
        response = await self.post(payloads.mention(team=self.team, **fields), "application/json")
        assert response.status_code == 200


def text_of(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks", [])) + str(message.get("text", ""))


def button(message: dict[str, Any], action_id: str) -> dict[str, Any] | None:
    for block in message.get("blocks", []):
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element["action_id"] == action_id:
                return dict(element)
    return None


@contextlib.asynccontextmanager
async def chat_hub(configured: Settings, embedder: MiniLMEmbedder) -> AsyncIterator[tuple[LiveApp, Worker]]:
    """The real app, and a real arq worker that answers its chat turns (both on the Chroma server: an
    embedded store belongs to one process at a time)."""
    assert configured.redis_url and configured.chroma_url
    await flush(configured.redis_url)
    async with (
        serve(create_app(configured, embedder=embedder)) as live,
        running_worker(configured, embedder) as worker,
    ):
        for _ in range(600):  # its start-up (services, chat answers) runs in its own task
            if "chat" in worker.ctx:
                break
            await asyncio.sleep(0.05)
        yield live, worker


@pytest.fixture
async def world(
    settings: Settings,
    embedder: MiniLMEmbedder,
    redis_url: str,
    chroma_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[World]:
    team = f"T{uuid.uuid4().hex[:8].upper()}"
    async with fake_slack() as fake:
        configured = settings.model_copy(
            update={
                "redis_url": redis_url,
                "chroma_url": chroma_server,
                "slack": SlackSettings(
                    signing_secret=SecretStr(SECRET),
                    bot_token=SecretStr("xoxb-test"),
                    api_url=fake.api_url,
                    user_rate="6/minute",
                    channel_rate="100/minute",
                ),
            }
        )
        async with chat_hub(configured, embedder) as (live, worker):
            http = httpx.AsyncClient(base_url=live.base_url, timeout=30)
            world = World(live, fake, http, team, worker=worker)
            await populate(world)
            spy_questions(world, monkeypatch)
            try:
                yield world
            finally:
                await world.http.aclose()
        assert fake.block_kit_violations == []


async def populate(world: World) -> None:
    services = world.live.services
    async with services.sessions.begin() as session:
        alpha = await workspaces.create(session, "alpha")
        beta = await workspaces.create(session, "beta")
        await workspaces.create(session, "gamma")
        await workspaces.add_chat_admin(session, alpha, "slack", ADMIN)
        await workspaces.add_chat_admin(session, beta, "slack", ADMIN)
        await workspaces.set_team_default(session, "slack", world.team, alpha)
        for channel, workspace in [("CALPHA", alpha), ("CBETA", beta), ("CSHARED", alpha)]:
            await channels.map_channel(
                session, platform="slack", team_id=world.team, channel_id=channel, workspace=workspace
            )
    vpn = b"# VPN\n\nRequest VPN access in the IT portal on your first day. The VPN code is canaryalpha1."
    pager = b"# Paging\n\nPage the SRE lead for a SEV1 incident. The pager code is canarybeta22."
    await ingest_all(services.indexer, alpha, [IncomingDocument("vpn.md", vpn, "vpn.md")])
    await ingest_all(services.indexer, beta, [IncomingDocument("pager.md", pager, "pager.md")])
    world.fake.shared_channels.add("CSHARED")


def spy_questions(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Record the neutral Questions the pipeline receives (to see conversation ids), in the web process
    and in the worker alike (both run in this test's process)."""
    original = AskService.ask

    async def ask(self: AskService, *args: Any, **kwargs: Any) -> Any:
        world.questions.append(args[1])
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(AskService, "ask", ask)


# the Teams world (its module builds on the Slack world above)
from tests.e2e.teams_world import teams  # noqa: E402, F401
