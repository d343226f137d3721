"""The canary isolation suite, driven through Slack: unique canary tokens in each workspace; every way of
asking (slash command, mention, DM, related-question button) from unmapped, wrong-workspace, wrong-team,
hidden and Slack Connect channels must never show another workspace's canary.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from core import workspaces
from core.indexing import IncomingDocument, ingest_all
from tests.e2e.conftest import World, text_of
from tests.support import slack as payloads

TOPICS = ["incident escalation policy", "travel hotel limit", "vpn onboarding steps"]
# channel -> the one workspace whose canaries it may see (None: refused, sees none)
VIEWS: dict[str, str | None] = {
    "CALPHA": "alpha",
    "CBETA": "beta",
    "CNEW": None,  # unmapped
    "CSHARED": None,  # mapped to alpha, but shared with another organisation (conversations.info)
    "CHIDDEN": None,  # the bot cannot read the channel's settings
}


async def plant(world: World) -> dict[str, str]:
    """Two canaries per workspace, each in a document about a common topic; token -> workspace."""
    owner: dict[str, str] = {}
    services = world.live.services
    for name, topic in itertools.product(["alpha", "beta", "gamma"], TOPICS[:2]):
        token = f"canary{uuid.uuid4().hex[:10]}"
        owner[token] = name
        async with services.sessions() as session:
            workspace = await workspaces.get(session, name)
        text = f"# {topic}\n\nThe {topic} secret code is {token}.".encode()
        await ingest_all(services.indexer, workspace, [IncomingDocument(f"{token}.md", text, f"{token}.md")])
    world.fake.hidden_channels.add("CHIDDEN")
    return owner


def leaks(message: dict[str, Any], owner: dict[str, str], allowed: str | None) -> list[str]:
    shown = text_of(message)
    return [token for token, workspace in owner.items() if token in shown and workspace != allowed]


async def test_no_channel_sees_another_workspaces_canary_through_slack(world: World) -> None:
    owner = await plant(world)
    questions = [f"what is the {topic} secret code?" for topic in TOPICS[:2]]
    questions += [f"what is {token}?" for token in owner]
    seen_own = 0
    for channel, allowed in VIEWS.items():
        for question in questions:
            reply = await world.command(question, channel=channel, user=f"U{channel}")
            assert not leaks(reply, owner, allowed), (channel, question)
            seen_own += any(t in text_of(reply) for t, w in owner.items() if w == allowed)
            if allowed is None:
                assert "🚫" in text_of(reply) or ":no_entry_sign:" in text_of(reply)
    assert seen_own >= 4  # the suite can fail: mapped channels do find their own canaries


async def test_mentions_dms_and_buttons_respect_isolation(world: World) -> None:
    owner = await plant(world)
    token_of_beta = next(t for t, w in owner.items() if w == "beta")
    ask = f"<@U0LAN0Z89> what is {token_of_beta}?"
    # a mention in alpha's channel, one flagged as externally shared by the payload, one from another team
    await world.event(channel="CALPHA", user="UISO", text=ask, ts="1700000100.000001")
    await world.event(channel="CALPHA", user="UISO", text=ask, ts="1700000101.000001", ext_shared=True)
    stranger = payloads.mention(team="TSTRANGER", channel="CBETA", user="UISO", text=ask, ts="1700000102.1")
    assert (await world.post(stranger, "application/json")).status_code == 200
    # a DM: the team default is alpha
    await world.event(
        kind="message", channel_type="im", channel="DISO", user="UISO", text=ask[13:], ts="1700000103.000001"
    )
    # a related-question button clicked in an unmapped channel and in the shared one
    keys = [
        await world.click("related_0", f"what is {token_of_beta}?", channel=c, user="UISO")
        for c in ("CNEW", "CSHARED", "CALPHA")
    ]
    await world.fake.wait(lambda: all(k in world.fake.responses for k in keys))
    await world.fake.wait(
        lambda: len(world.fake.of("chat.postMessage")) + len(world.fake.of("chat.postEphemeral")) >= 4
    )
    delivered = world.fake.messages()
    assert len(delivered) >= 7
    for message in delivered:
        assert not leaks(message, owner, "alpha")
    refusals = [call.params for call in world.fake.of("chat.postEphemeral")]
    assert len(refusals) == 2  # the shared-channel mention and the unknown team, told privately
    assert all([b["type"] for b in r["blocks"]] == ["section", "context"] for r in refusals)  # + how-to
