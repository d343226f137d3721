"""Change alerts end to end: `/ask watch` in Slack and `@Switchboard watch` in Teams through the real app,
a document changes, and the loopback Slack and Bot Framework fakes receive the alert, only in the
channels that watch it and only from their own workspace.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import select

from core import workspaces
from core.indexing import IncomingDocument, ensure_collection
from core.tables import Job, Source
from tests.e2e.teams_world import CHANNELS, TeamsWorld, shown
from tests.fakes.slack import Call
from tests.support import slack as payloads

VPN_V2 = (
    b"# VPN\n\nRequest VPN access in the IT portal on your first day. The VPN code is canaryalpha1.\n"
    b"From March the VPN needs a hardware key from the service desk."
)


def alerts_to(calls: list[Call], channel: str) -> list[dict[str, Any]]:
    return [c.params for c in calls if c.method == "chat.postMessage" and c.params.get("channel") == channel]


def alert_text(params: dict[str, Any]) -> str:
    blocks = params.get("blocks")
    shown_blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    return json.dumps(shown_blocks) + str(params.get("text"))


async def test_watchers_in_slack_and_teams_get_the_alert_and_other_workspaces_do_not(
    teams: TeamsWorld,
) -> None:
    slack = teams.slack
    reply = await slack.command("watch default", channel="CALPHA")
    assert "Watching collection *default*" in json.dumps(reply)
    beta = await slack.command("watch default", channel="CBETA")  # beta's own "default" collection
    assert "Watching collection" in json.dumps(beta)
    watched = await teams.send(teams.mention("<at>Switchboard</at> watch vpn.md"))
    assert "Watching document" in shown(watched)
    listed = await slack.command("watching", channel="CALPHA")
    assert "collection *default*" in json.dumps(listed)

    services = slack.live.services
    async with services.sessions() as session:
        alpha = await workspaces.get(session, "alpha")
    before = len(teams.fake.sent)
    result = await services.indexer.upsert(alpha, IncomingDocument("vpn.md", VPN_V2, "vpn.md"))
    assert result.status == "updated"

    await slack.fake.wait(lambda: alerts_to(slack.fake.calls, "CALPHA"))
    await teams.fake.wait(before + 1)
    text = alert_text(alerts_to(slack.fake.calls, "CALPHA")[0])
    assert "VPN" in text and "was updated" in text
    assert "+1 line" in text and "hardware key" in text  # the summary of the difference
    assert alerts_to(slack.fake.calls, "CBETA") == []  # another workspace's channel hears nothing
    alert = teams.fake.sent[before]
    assert alert.conversation_id == CHANNELS["alpha"]
    assert "hardware key" in shown(alert) and "was updated" in shown(alert)
    assert alert.authorization == "Bearer outbound-test-token"
    assert [s for s in teams.fake.sent if s.conversation_id == CHANNELS["beta"]] == []


async def test_a_watch_outside_the_channels_workspace_is_refused(teams: TeamsWorld) -> None:
    slack = teams.slack
    refused = json.dumps(await slack.command("watch pager.md", channel="CALPHA"))  # pager.md is beta's
    assert "has no collection or document called 'pager.md'" in refused
    unknown = json.dumps(await slack.command("watch nothing-here", channel="CALPHA"))
    assert "has no collection or document" in unknown
    teams_refused = await teams.send(teams.mention("<at>Switchboard</at> watch pager.md"))
    assert "has no collection or document" in shown(teams_refused)
    unmapped = json.dumps(await slack.command("watch default", channel="CNOWHERE"))
    assert "not connected" in unmapped


async def test_unwatch_stops_the_alerts(teams: TeamsWorld) -> None:
    slack = teams.slack
    await slack.command("watch default", channel="CALPHA")
    stopped = json.dumps(await slack.command("unwatch default", channel="CALPHA"))
    assert "Stopped watching *default*" in stopped
    assert "watches nothing yet" in json.dumps(await slack.command("watching", channel="CALPHA"))
    services = slack.live.services
    async with services.sessions() as session:
        alpha = await workspaces.get(session, "alpha")
    await services.indexer.upsert(alpha, IncomingDocument("new.md", b"# New\n\nA new page.", "new.md"))
    assert alerts_to(slack.fake.calls, "CALPHA") == []


async def test_a_channel_message_syncs_the_slack_history_source_of_that_channel(teams: TeamsWorld) -> None:
    slack = teams.slack
    services = slack.live.services
    async with services.sessions.begin() as session:
        alpha = await workspaces.get(session, "alpha")
        collection_id = await ensure_collection(session, alpha.id, "chat")
        covered = Source(
            workspace_id=alpha.id,
            collection_id=collection_id,
            type="slack",
            name="general",
            config={"channels": ["CALPHA"]},
        )
        session.add(covered)
    body = json.loads(
        payloads.mention(team=slack.team, channel="CALPHA", user="U9", text="hello", ts="1700000000.000100")
    )
    body["event"].update(type="message", channel_type="channel")
    response = await slack.post(json.dumps(body), "application/json")
    assert response.status_code == 200
    bot = json.loads(
        payloads.mention(team=slack.team, channel="CALPHA", user="U9", text="alert", ts="1700000000.000200")
    )
    bot["event"].update(type="message", channel_type="channel", bot_id="B1")  # our own alerts never sync
    assert (await slack.post(json.dumps(bot), "application/json")).status_code == 200
    other = json.loads(
        payloads.mention(team=slack.team, channel="CBETA", user="U9", text="hi", ts="1700000000.000300")
    )
    other["event"].update(type="message", channel_type="channel")
    assert (await slack.post(json.dumps(other), "application/json")).status_code == 200

    async def sync_jobs() -> list[Job]:
        async with services.sessions() as session:
            return list((await session.scalars(select(Job).where(Job.kind == "sync"))).all())

    for _ in range(200):
        if await sync_jobs():
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # the bot's and the other channel's messages had their chance too
    jobs = await sync_jobs()
    assert [(j.params["source_id"], j.params["reason"]) for j in jobs] == [(covered.id, "slack-message")]
