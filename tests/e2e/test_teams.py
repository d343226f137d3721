"""The Teams bot end to end: the real app under uvicorn, Bot Framework activities from the shared
fixtures over real HTTP with tokens signed by a test key, and a loopback Bot Connector that the real
botbuilder connector client sends replies to (tests/fakes/teams.py).
"""

from __future__ import annotations

import asyncio
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from core.embeddings import MiniLMEmbedder
from core.tables import AnswerFeedback, AnswerLog
from hub.app import create_app
from hub.settings import Settings
from tests.e2e.teams_world import ADMIN, GROUP, TeamsWorld, actions, shown
from tests.fakes.teams import ACCESS_TOKEN
from tests.support import teams as activities
from tests.support.live import serve


async def test_a_valid_token_gets_an_answer_card_in_the_same_reply_chain(teams: TeamsWorld) -> None:
    asked = teams.mention("how do I get VPN access?")
    sent = await teams.send(asked)
    assert sent.conversation_id == asked["conversation"]["id"] and sent.reply_to == asked["id"]
    assert sent.authorization == f"Bearer {ACCESS_TOKEN}"  # the outbound token from the token endpoint
    text = shown(sent)
    assert "IT portal" in text and "**[1]** VPN" in text and "Confidence" in text
    assert "canarybeta22" not in text
    verbs = [a["verb"] for a in actions(sent)]
    assert verbs.count("feedback") == 2
    assert teams.slack.questions[-1].text == "how do I get VPN access?"  # the mention is stripped


async def test_message_turns_are_answered_by_the_worker_not_the_web_process(
    teams: TeamsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the web process computed an answer")

    monkeypatch.setattr(teams.slack.live.services.asker, "ask", refuse)  # shadows the class-level spy
    text = shown(await teams.send(teams.mention("how do I get VPN access?")))
    assert "IT portal" in text and teams.slack.questions[-1].text == "how do I get VPN access?"


def forged(teams: TeamsWorld, service_url: str, case: str) -> str:
    if case == "audience":
        return teams.fake.token(service_url, aud="someone-else")
    if case == "issuer":
        return teams.fake.token(service_url, iss="https://sts.windows.net/evil/")
    if case == "serviceurl":
        return teams.fake.token("https://attacker.example/")
    if case == "expired":
        return teams.fake.token(service_url, exp=int(time.time()) - 3600, nbf=int(time.time()) - 7200)
    if case == "unsigned":
        return jwt.encode(
            {
                "iss": "https://api.botframework.com",
                "aud": teams.fake.app_id,
                "serviceurl": service_url,
                "exp": int(time.time()) + 600,
            },
            "",
            algorithm="none",
        )
    if case == "other-key":
        return teams.fake.token(
            service_url, key=rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )
    return {"garbage": "not.a.jwt", "empty": ""}.get(case, "x")


@pytest.mark.parametrize(
    "case", ["audience", "issuer", "serviceurl", "expired", "unsigned", "other-key", "garbage", "missing"]
)
async def test_bad_tokens_get_401_and_no_reply(teams: TeamsWorld, case: str) -> None:
    activity = teams.mention("how do I get VPN access?")
    token = "" if case == "missing" else forged(teams, activity["serviceUrl"], case)
    response = await teams.post(activity, token=token)
    assert response.status_code == 401, response.text
    raw = await teams.http.post("/api/messages", json=activity, headers={"Authorization": "Bearer a.b.c"})
    assert raw.status_code == 401
    await asyncio.sleep(0.3)
    assert teams.fake.sent == []
    async with teams.slack.live.services.sessions() as session:
        assert await session.scalar(select(func.count(AnswerLog.id))) == 0


async def test_a_key_not_endorsed_for_msteams_is_refused(teams: TeamsWorld) -> None:
    teams.fake.endorsements = ["webchat"]
    keys = teams.slack.live.app.state.teams.keys
    await keys.refresh()
    assert (await teams.post(teams.mention("VPN access?"))).status_code == 401
    assert teams.fake.sent == []


async def test_bodies_that_are_not_activities_are_400(teams: TeamsWorld) -> None:
    for body in ["not json", "[]", '{"type": "message"}']:
        response = await teams.http.post("/api/messages", content=body, headers={"Authorization": "Bearer x"})
        assert response.status_code == 400


async def test_follow_ups_in_the_reply_chain_carry_memory(teams: TeamsWorld) -> None:
    first = teams.mention("how do I get VPN access?")
    await teams.send(first)
    root = first["id"]
    follow = teams.mention("and on day one?", root=root)
    sent = await teams.send(follow)
    assert sent.conversation_id == first["conversation"]["id"]
    ids = [q.conversation_id for q in teams.slack.questions]
    assert ids[0] == ids[1] and ids[0] is not None and first["conversation"]["id"] in ids[0]
    assert teams.slack.questions[1].text == "and on day one?"


async def test_personal_chat_uses_the_tenants_default_workspace_or_explains(teams: TeamsWorld) -> None:
    sent = await teams.send(teams.personal("how do I get VPN access?"))
    assert "IT portal" in shown(sent)
    stranger = activities.personal(tenant="other-tenant", text="VPN access?", service_url=teams.service_url)
    refusal = shown(await teams.send(stranger))
    assert "not set up" in refusal and "workspace default teams --team other-tenant" in refusal
    assert "IT portal" not in refusal


async def test_group_chat_maps_by_conversation_id(teams: TeamsWorld) -> None:
    assert "SRE lead" in shown(await teams.send(teams.group("who do I page for a SEV1?")))
    unmapped = shown(
        await teams.send(teams.group("who do I page for a SEV1?", conversation="19:other@thread.v2"))
    )
    assert "not connected" in unmapped and "--team chat" in unmapped and "SRE lead" not in unmapped


async def test_bot_added_to_a_team_posts_a_welcome_card_with_help(teams: TeamsWorld) -> None:
    added = activities.bot_added(
        team=teams.team, channel="19:general@thread.tacv2", tenant=teams.tenant, service_url=teams.service_url
    )
    sent = await teams.send(added)
    assert sent.conversation_id == "19:general@thread.tacv2"
    assert "Switchboard" in shown(sent) and "@Switchboard scope" in shown(sent)


async def test_feedback_invoke_is_stored_like_slack_feedback(teams: TeamsWorld) -> None:
    asked = teams.mention("How do I get VPN access?", user="aad-feed")
    sent = await teams.send(asked)
    up = next(a for a in actions(sent) if a["data"].get("rating") == 1)
    response = await teams.post(activities.invoke(asked, verb=up["verb"], data=up["data"], user="aad-feed"))
    assert response.status_code == 200 and "Thanks" in response.json()["value"]
    down = dict(up["data"], rating=-1)
    assert (
        await teams.post(activities.invoke(asked, verb="feedback", data=down, user="aad-feed"))
    ).status_code == 200
    async with teams.slack.live.services.sessions() as session:
        rows = (await session.scalars(select(AnswerFeedback))).all()
    assert [(r.rating, r.user_id, r.platform) for r in rows] == [(-1, "aad-feed", "teams")]
    assert rows[0].question == "How do I get VPN access?" and rows[0].document_ids == ["vpn.md"]
    # the same token from a channel of another workspace is not found there
    other = teams.mention("x", channel="beta")
    response = await teams.post(activities.invoke(other, verb="feedback", data=down, user="aad-feed"))
    assert "no longer available" in response.json()["value"]


async def test_the_fixture_invoke_without_a_verb_gets_a_polite_answer(teams: TeamsWorld) -> None:
    fixture = activities.fixture("invoke_adaptive_card_action.json")
    fixture["serviceUrl"] = teams.service_url
    response = await teams.post(fixture)
    assert response.status_code == 200 and "don't know that button" in response.json()["value"]


async def test_related_question_action_asks_it_in_the_conversation(teams: TeamsWorld) -> None:
    context = teams.mention("x", channel="beta")
    response = await teams.post(
        activities.invoke(context, verb="related", data={"question": "Who do I page for a SEV1?"})
    )
    assert response.status_code == 200
    sent = await teams.next_reply()
    assert "SRE lead" in shown(sent) and sent.conversation_id == context["conversation"]["id"]


async def test_help_scope_connect_and_disconnect_come_from_the_shared_commands(teams: TeamsWorld) -> None:
    assert "@Switchboard scope" in shown(await teams.send(teams.mention("help")))
    assert "workspace *alpha*" in shown(await teams.send(teams.mention("scope")))
    assert "not connected" in shown(await teams.send(teams.mention("scope", channel="new")))
    denied = shown(await teams.send(teams.mention("connect beta", channel="new", user="aad-nobody")))
    assert "not one of its chat admins" in denied and "workspace admins add beta teams aad-nobody" in denied
    assert "Connected" in shown(await teams.send(teams.mention("connect beta", channel="new", user=ADMIN)))
    assert "workspace *beta*" in shown(await teams.send(teams.mention("scope", channel="new")))
    assert "Disconnected" in shown(await teams.send(teams.mention("disconnect", channel="new", user=ADMIN)))
    assert "not connected" in shown(await teams.send(teams.mention("scope", channel="new")))
    assert GROUP  # group chats connect the same way (team "chat"), covered by the isolation suite


async def test_keys_are_cached_and_a_rotated_key_is_fetched_once(teams: TeamsWorld) -> None:
    fetches = teams.fake.metadata_fetches
    assert fetches >= 1  # fetched at start-up, off the request path
    await teams.send(teams.mention("VPN access?"))
    await teams.send(teams.mention("VPN access?"))
    assert teams.fake.metadata_fetches == fetches  # cached
    keys = teams.slack.live.app.state.teams.keys
    keys.fetched_at -= 120  # the last fetch was over a minute ago
    teams.fake.rotate()
    assert "IT portal" in shown(await teams.send(teams.mention("VPN access?")))
    assert teams.fake.metadata_fetches == fetches + 1
    teams.fake.rotate()  # a second unknown kid within the minute: refused without another fetch
    assert (await teams.post(teams.mention("VPN access?"))).status_code == 401
    assert teams.fake.metadata_fetches == fetches + 1


async def test_without_an_app_id_the_endpoint_is_not_there(
    settings: Settings, embedder: MiniLMEmbedder
) -> None:
    async with (
        serve(create_app(settings, embedder=embedder)) as live,
        httpx.AsyncClient(base_url=live.base_url) as http,
    ):
        activity = activities.fixture("personal_message.json")
        response = await http.post("/api/messages", json=activity)
    assert response.status_code == 404 and "SWITCHBOARD_TEAMS__APP_ID" in response.text


async def test_rate_limits_per_user_are_friendly(teams: TeamsWorld) -> None:
    replies = [shown(await teams.send(teams.mention("VPN access?", user="aad-rate"))) for _ in range(11)]
    assert sum("IT portal" in r for r in replies) == 10
    assert "taking a short break" in replies[-1] and "IT portal" not in replies[-1]
    assert "IT portal" in shown(await teams.send(teams.mention("VPN access?", user="aad-other")))
