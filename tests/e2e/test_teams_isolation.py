"""The canary isolation suite, driven through Teams: unique canary tokens in each workspace; every way of
asking (channel mention, group chat, personal chat, related-question action) from unmapped, wrong-team,
wrong-tenant, shared and other-workspace conversations must never show another workspace's canary.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bots.teams.bot import TeamsPolicy
from tests.e2e.teams_world import TeamsWorld, shown
from tests.e2e.test_slack_isolation import TOPICS, plant
from tests.fakes.teams import Sent
from tests.support import teams as activities

Build = Callable[[TeamsWorld, str], dict[str, Any]]


def shared_channel(world: TeamsWorld, text: str) -> dict[str, Any]:
    activity = world.mention(text)
    activity["channelData"]["channel"]["membershipType"] = "shared"
    return activity


def other_tenant(world: TeamsWorld, text: str) -> dict[str, Any]:
    activity = world.mention(text)
    activity["channelData"]["tenant"]["id"] = activity["conversation"]["tenantId"] = "tenant-stranger"
    return activity


def other_team(world: TeamsWorld, text: str) -> dict[str, Any]:
    activity = world.mention(text)
    activity["channelData"]["team"]["id"] = "19:stranger-team@thread.tacv2"
    return activity


# conversation -> (how to build an activity there, the one workspace whose canaries it may see)
VIEWS: dict[str, tuple[Build, str | None]] = {
    "alpha channel": (lambda w, t: w.mention(t), "alpha"),
    "beta channel": (lambda w, t: w.mention(t, channel="beta"), "beta"),
    "unmapped channel": (lambda w, t: w.mention(t, channel="new"), None),
    "shared channel": (shared_channel, None),
    "alpha channel, other tenant": (other_tenant, None),
    "alpha channel id, other team": (other_team, None),
    "group chat of beta": (lambda w, t: w.group(t), "beta"),
    "unmapped group chat": (lambda w, t: w.group(t, conversation="19:nobody@thread.v2"), None),
    "personal chat": (lambda w, t: w.personal(t), "alpha"),
    "personal chat, unknown tenant": (
        lambda w, t: activities.personal(tenant="tenant-x", text=t, service_url=w.service_url),
        None,
    ),
}


def leaks(sent: Sent, owner: dict[str, str], allowed: str | None) -> list[str]:
    return leaks_text(shown(sent), owner, allowed)


def leaks_text(text: str, owner: dict[str, str], allowed: str | None) -> list[str]:
    return [token for token, workspace in owner.items() if token in text and workspace != allowed]


async def test_no_conversation_sees_another_workspaces_canary_through_teams(teams: TeamsWorld) -> None:
    owner = await plant(teams.slack)
    questions = [f"what is the {topic} secret code?" for topic in TOPICS[:2]]
    questions += [f"what is {token}?" for token in owner]
    seen_own = 0
    for name, (build, allowed) in VIEWS.items():
        for question in questions:
            activity = build(teams, question)
            activity["from"].update(aadObjectId=f"aad-{name}")  # one asker per view: under the rate limit
            sent = await teams.send(activity)
            assert not leaks(sent, owner, allowed), (name, question)
            seen_own += any(t in shown(sent) for t, w in owner.items() if w == allowed)
            if allowed is None:
                assert "🚫" in shown(sent) and sent.activity["attachments"][0]["content"]["body"][1]["text"]
    assert seen_own >= 6  # the suite can fail: mapped conversations do find their own canaries


async def test_related_actions_respect_isolation_and_allowed_tenants_refuse_others(teams: TeamsWorld) -> None:
    owner = await plant(teams.slack)
    beta_token = next(t for t, w in owner.items() if w == "beta")
    for name, (build, allowed) in VIEWS.items():
        context = build(teams, "x")
        invoke = activities.invoke(context, verb="related", data={"question": f"what is {beta_token}?"})
        response = await teams.post(invoke)
        assert response.status_code == 200
        assert not leaks_text(response.text, owner, allowed), name
        if allowed is not None:
            sent = await teams.next_reply()
            assert not leaks(sent, owner, allowed), name
            assert (beta_token in shown(sent)) == (allowed == "beta"), name
    assert len(teams.fake.sent) == teams.seen  # refusals went to the clicker only, nothing was posted
    bots = [teams.slack.live.app.state.teams.bot, teams.worker_bot]  # invokes, message turns
    for bot in bots:
        bot.policy = TeamsPolicy(frozenset({"tenant-only-this-one"}))
    refused = shown(await teams.send(teams.mention(f"what is {beta_token}?", channel="beta")))
    assert "does not serve your organisation" in refused and "ALLOWED_TENANTS" in refused
    assert beta_token not in refused
    for bot in bots:
        bot.policy = TeamsPolicy(frozenset({teams.tenant}))
    assert beta_token in shown(await teams.send(teams.mention(f"what is {beta_token}?", channel="beta")))
