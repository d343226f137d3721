"""Shared world for the Teams end-to-end tests: the real app under uvicorn with Teams (and Slack, for the
parity test) configured, a loopback Bot Framework (connector, token endpoint, OpenID metadata + JWKS),
and workspaces alpha/beta/gamma mapped to Teams channels of one random team and tenant.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bots.teams.bot import TeamsBot
from core import channels, workspaces
from core.embeddings import MiniLMEmbedder
from hub.settings import Settings, SlackSettings, TeamsSettings
from tests.e2e.conftest import SECRET, World, chat_hub, populate, spy_questions
from tests.fakes.slack import fake_slack
from tests.fakes.teams import FakeBotFramework, Sent, fake_bot_framework
from tests.support import teams as activities
from tests.support.adaptivecard import violations

APP_ID = "3a1e2b4c-0000-4000-8000-00000000b0t1"
ADMIN = "aad-admin"
CHANNELS = {"alpha": "19:alpha@thread.tacv2", "beta": "19:beta@thread.tacv2", "new": "19:new@thread.tacv2"}
GROUP = "19:group-beta@thread.v2"


@dataclass
class TeamsWorld:
    slack: World
    fake: FakeBotFramework
    team: str
    tenant: str
    service_url: str
    worker_bot: TeamsBot  # the bot that runs message turns (in the worker); invokes run in the web app
    seen: int = 0
    replies: list[Sent] = field(default_factory=list)

    @property
    def http(self) -> httpx.AsyncClient:
        return self.slack.http

    async def post(self, activity: dict[str, Any], *, token: str | None = None) -> httpx.Response:
        bearer = self.fake.token(activity["serviceUrl"]) if token is None else token
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        return await self.http.post("/api/messages", content=json.dumps(activity), headers=headers)

    async def send(self, activity: dict[str, Any]) -> Sent:
        """Post an activity and return the one reply it causes."""
        response = await self.post(activity)
        assert response.status_code == 200, response.text
        return await self.next_reply()

    async def next_reply(self) -> Sent:
        await self.fake.wait(self.seen + 1)
        self.seen += 1
        return self.fake.sent[self.seen - 1]

    def mention(self, text: str, channel: str = "alpha", **extra: Any) -> dict[str, Any]:
        return activities.mention(
            team=self.team,
            channel=CHANNELS.get(channel, channel),
            tenant=self.tenant,
            text=text,
            service_url=self.service_url,
            **extra,
        )

    def personal(self, text: str, **extra: Any) -> dict[str, Any]:
        return activities.personal(tenant=self.tenant, text=text, service_url=self.service_url, **extra)

    def group(self, text: str, conversation: str = GROUP, **extra: Any) -> dict[str, Any]:
        return activities.group(
            tenant=self.tenant, text=text, service_url=self.service_url, conversation=conversation, **extra
        )


def shown(sent: Sent) -> str:
    """Everything a user sees in a reply: the fallback text and the card."""
    return json.dumps(sent.activity.get("attachments") or [], ensure_ascii=False) + str(
        sent.activity.get("text")
    )


def actions(sent: Sent) -> list[dict[str, Any]]:
    card = sent.activity["attachments"][0]["content"]
    return [a for block in card["body"] if block["type"] == "ActionSet" for a in block["actions"]]


@pytest.fixture
async def teams(
    settings: Settings,
    embedder: MiniLMEmbedder,
    redis_url: str,
    chroma_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[TeamsWorld]:
    team_id, tenant = f"T{uuid.uuid4().hex[:8].upper()}", str(uuid.uuid4())
    async with fake_slack() as slack_fake, fake_bot_framework(APP_ID) as fake:
        configured = settings.model_copy(
            update={
                "redis_url": redis_url,
                "chroma_url": chroma_server,
                "slack": SlackSettings(
                    signing_secret=SecretStr(SECRET),
                    bot_token=SecretStr("xoxb-test"),
                    api_url=slack_fake.api_url,
                    user_rate="100/minute",
                    channel_rate="100/minute",
                ),
                "teams": TeamsSettings(
                    app_id=APP_ID,
                    app_password=SecretStr("test-password"),
                    openid_metadata_url=fake.openid_url,
                    token_url=fake.token_url,
                ),
            }
        )
        async with chat_hub(configured, embedder) as (live, worker):
            slack = World(live, slack_fake, httpx.AsyncClient(base_url=live.base_url, timeout=60), team_id)
            world = TeamsWorld(
                slack,
                fake,
                f"19:{team_id}@thread.tacv2",
                tenant,
                fake.service_url(f"amer/{tenant}/"),
                worker_bot=worker.ctx["chat"].teams.bot,
            )
            await populate(slack)
            await map_teams(world)
            spy_questions(slack, monkeypatch)
            try:
                yield world
            finally:
                await slack.http.aclose()
        assert fake.untyped_attachments() == []
        assert [v for card in fake.cards() for v in violations(card)] == []


async def map_teams(world: TeamsWorld) -> None:
    async with world.slack.live.services.sessions.begin() as session:
        alpha = await workspaces.get(session, "alpha")
        beta = await workspaces.get(session, "beta")
        await workspaces.add_chat_admin(session, beta, "teams", ADMIN)
        await workspaces.set_team_default(session, "teams", world.tenant, alpha)
        for channel, workspace in [(CHANNELS["alpha"], alpha), (CHANNELS["beta"], beta)]:
            await channels.map_channel(
                session,
                platform="teams",
                team_id=world.team,
                channel_id=channel,
                workspace=workspace,
                tenant_id=world.tenant,
            )
        await channels.map_channel(
            session, platform="teams", team_id="chat", channel_id=GROUP, workspace=beta
        )
