"""Slack channel history through the real slack_sdk client against the loopback fake: a thread becomes
one document with a permalink, the second sync reads only messages newer than the cursor, a private
channel's documents are readable by its members only, and a 429 carries Slack's Retry-After."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from core import workspaces
from core.errors import AuthError, TransientError
from core.jobs import ItemResult
from core.tables import Document, Workspace
from hub import sources
from hub.container import Services
from tests.fakes.slack import FakeSlack, fake_slack


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with fake_slack() as fake:
        fake.post(
            "C1",
            "1700000000.000100",
            "How do I rotate the VPN certificate?",
            replies=("Run vpnctl rotate.", "Then restart the agent."),
        )
        fake.post("C1", "1700000100.000200", "Lunch menu is on the wiki.")
        fake.post("G9", "1700000200.000300", "Layoff planning notes, confidential.")
        fake.private_channels.add("G9")
        fake.members["G9"] = ["U1", "U2"]
        fake.emails.update(U1="ceo@example.com", U2="cfo@example.com")
        yield fake


async def add(services: Services, fake: FakeSlack, channels: list[str]) -> tuple[Workspace, int]:
    async with services.sessions.begin() as session:
        workspace = await workspaces.create(session, "chat")
    config = {"channels": channels, "api_url": fake.api_url, "page_size": 1}
    source = await sources.add(
        services, workspace, source_type="slack", name="history", config=config, secret={"token": "xoxb-test"}
    )
    return workspace, source.id


async def sync_once(services: Services, workspace: Workspace, source_id: int) -> dict[str, int]:
    seen: list[ItemResult] = []

    async def report(results: list[ItemResult]) -> None:
        seen.extend(results)

    await services.ports.syncers["slack"](await sources.get(services, workspace, source_id), report)
    counts: dict[str, int] = {}
    for result in seen:
        counts[result.status] = counts.get(result.status, 0) + 1
    return counts


async def test_threads_incremental_and_private_channel_acl(conn_services: Services, slack: FakeSlack) -> None:
    services = conn_services
    workspace, source_id = await add(services, slack, ["C1", "G9"])
    assert await sync_once(services, workspace, source_id) == {"created": 3}
    async with services.sessions() as session:
        docs = {d.external_id.split(":", 1)[1]: d for d in (await session.scalars(select(Document))).all()}
    thread = docs["C1/1700000000.000100"]
    assert "vpnctl rotate" in thread.text and "restart the agent" in thread.text  # one document per thread
    assert thread.url == "https://example.slack.com/archives/C1/p1700000000000100" and thread.acl is None
    assert docs["G9/1700000200.000300"].acl == ["ceo@example.com", "cfo@example.com"]

    slack.calls.clear()
    slack.post("C1", "1700000300.000400", "The VPN certificate rotation is now automatic.")
    assert await sync_once(services, workspace, source_id) == {"created": 1}
    oldest = [
        c.params.get("oldest") for c in slack.of("conversations.history") if c.params.get("channel") == "C1"
    ]
    assert oldest and all(o == "1700000100.000200" for o in oldest)  # only messages after the cursor


async def test_rate_limit_and_refused_token(conn_services: Services, slack: FakeSlack) -> None:
    services = conn_services
    workspace, source_id = await add(services, slack, ["C1"])
    slack.throttle["conversations.history"] = 1
    with pytest.raises(TransientError) as raised:
        await sync_once(services, workspace, source_id)
    assert raised.value.retry_after_s == 1.0  # the fake's Retry-After
    async with services.sessions.begin() as session:
        other = await workspaces.create(session, "nochannel")
    config = {"channels": ["CX"], "api_url": slack.api_url}
    missing = await sources.add(
        services, other, source_type="slack", name="h", config=config, secret={"token": "x"}
    )
    with pytest.raises(AuthError, match="channel_not_found"):
        await sync_once(services, other, missing.id)
