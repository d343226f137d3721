"""The Slack bot end to end: the real app under uvicorn, signed requests over real HTTP, a loopback fake
Slack Web API and response_url receiver (tests/fakes/slack.py) that the real slack_sdk clients call.
"""

from __future__ import annotations

import json
import time

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import func, select

from bots.slack.turns import UNAVAILABLE
from core.errors import TransientError
from core.tables import AnswerFeedback, AnswerLog
from tests.e2e.conftest import ADMIN, FORM, SECRET, World, button, text_of
from tests.support import slack as payloads


async def test_url_verification_is_answered(world: World) -> None:
    body = (payloads.SLACK / "url_verification.json").read_text()
    response = await world.post(body, "application/json")
    assert response.status_code == 200
    assert json.loads(body)["challenge"] in response.text


async def test_slash_command_acks_at_once_then_answers_privately_with_sources(world: World) -> None:
    started = time.perf_counter()
    reply = await world.command("How do I get VPN access?")
    assert reply["response_type"] == "ephemeral"
    shown = text_of(reply)
    assert "IT portal" in shown and "*[1]* VPN" in shown and "Confidence" in shown
    assert ">Request VPN access" in shown or ">The VPN code" in shown
    assert button(reply, "share") and button(reply, "feedback_up") and button(reply, "feedback_down")
    assert "canarybeta22" not in shown
    assert time.perf_counter() - started < 30


async def test_answers_are_computed_by_the_worker_not_the_web_process(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The web process only acknowledges and queues; its answer pipeline is never used for chat."""

    async def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the web process computed an answer")

    monkeypatch.setattr(world.live.services.asker, "ask", refuse)  # shadows the class-level spy
    assert "IT portal" in text_of(await world.command("How do I get VPN access?", user="UWORK"))
    await world.event(channel="CALPHA", user="UWORK", text="<@U0LAN0Z89> VPN access?", ts="1700000050.1")
    await world.fake.wait(lambda: world.fake.of("chat.postMessage"))
    assert "IT portal" in text_of(world.fake.of("chat.postMessage")[0].params)
    assert len(world.questions) == 2


async def test_share_button_posts_the_answer_to_the_channel(world: World) -> None:
    reply = await world.command("How do I get VPN access?", user="USHARE")
    token = button(reply, "share")["value"]  # type: ignore[index]
    key = await world.click("share", token, user="USHARE")
    await world.fake.wait(lambda: world.fake.of("chat.postMessage") and key in world.fake.responses)
    posted = world.fake.of("chat.postMessage")[-1].params
    assert posted["channel"] == "CALPHA" and "IT portal" in text_of(posted)
    assert "<@USHARE> shared" in text_of(posted) and button(posted, "share") is None
    # the same token clicked from a channel of another workspace shows nothing
    key = await world.click("share", token, channel="CBETA", user="USHARE")
    await world.fake.wait(lambda: key in world.fake.responses)
    assert "IT portal" not in text_of(world.fake.responses[key][0])
    assert len(world.fake.of("chat.postMessage")) == 1


async def test_feedback_buttons_store_the_rating_with_question_answer_and_documents(world: World) -> None:
    reply = await world.command("How do I get VPN access?", user="UFEED")
    token = button(reply, "feedback_up")["value"]  # type: ignore[index]
    await world.fake.wait(lambda: True)
    key = await world.click("feedback_up", token, user="UFEED")
    await world.fake.wait(lambda: key in world.fake.responses)
    assert "Thanks" in text_of(world.fake.responses[key][0])
    key = await world.click("feedback_down", token, user="UFEED")
    await world.fake.wait(lambda: key in world.fake.responses)
    async with world.live.services.sessions() as session:
        rows = (await session.scalars(select(AnswerFeedback))).all()
    assert len(rows) == 1
    row = rows[0]
    assert (row.rating, row.user_id, row.platform) == (-1, "UFEED", "slack")
    assert row.question == "How do I get VPN access?" and "IT portal" in row.answer
    assert row.document_ids == ["vpn.md"]


async def test_related_question_button_asks_that_question(world: World) -> None:
    key = await world.click("related_0", "Who do I page for a SEV1?", channel="CBETA", user="UREL")
    await world.fake.wait(lambda: key in world.fake.responses)
    reply = world.fake.responses[key][0]
    assert "SRE lead" in text_of(reply) and reply["response_type"] == "ephemeral"
    # on a public answer in a thread, the related answer goes in that thread
    await world.click(
        "related_0",
        "Who do I page for a SEV1?",
        channel="CBETA",
        user="UREL",
        ephemeral=False,
        thread_ts="1700000000.000100",
    )
    await world.fake.wait(lambda: world.fake.of("chat.postMessage"))
    posted = world.fake.of("chat.postMessage")[0].params
    assert posted["thread_ts"] == "1700000000.000100" and "SRE lead" in text_of(posted)
    assert world.questions[-1].conversation_id == f"slack:{world.team}:CBETA:1700000000.000100"


async def test_mention_answers_in_a_thread_and_later_mentions_are_follow_ups(world: World) -> None:
    await world.event(
        channel="CALPHA", user="UMEN", text="<@U0LAN0Z89> how do I get VPN access?", ts="1700000001.000001"
    )
    await world.fake.wait(lambda: len(world.fake.of("chat.postMessage")) == 1)
    first = world.fake.of("chat.postMessage")[0].params
    assert first["thread_ts"] == "1700000001.000001" and "IT portal" in text_of(first)
    await world.event(
        channel="CALPHA",
        user="UMEN",
        text="<@U0LAN0Z89> and on day one?",
        ts="1700000009.000009",
        thread_ts="1700000001.000001",
    )
    await world.fake.wait(lambda: len(world.fake.of("chat.postMessage")) == 2)
    assert world.fake.of("chat.postMessage")[1].params["thread_ts"] == "1700000001.000001"
    conversation = f"slack:{world.team}:CALPHA:1700000001.000001"
    assert [q.conversation_id for q in world.questions] == [conversation, conversation]
    assert world.questions[1].text == "and on day one?"


async def test_direct_messages_use_the_team_default_or_explain(world: World) -> None:
    await world.event(
        kind="message",
        channel_type="im",
        channel="D0001",
        user="UDM",
        text="how do I get VPN access?",
        ts="1700000002.000001",
    )
    await world.fake.wait(lambda: world.fake.of("chat.postMessage"))
    assert "IT portal" in text_of(world.fake.of("chat.postMessage")[0].params)
    other = payloads.mention(
        team="TNODEFAULT",
        kind="message",
        channel_type="im",
        channel="D0002",
        user="UDM",
        text="how do I get VPN access?",
        ts="1700000003.000001",
    )
    assert (await world.post(other, "application/json")).status_code == 200
    await world.fake.wait(lambda: len(world.fake.of("chat.postMessage")) == 2)
    refusal = text_of(world.fake.of("chat.postMessage")[1].params)
    assert "not set up" in refusal and "workspace default slack --team TNODEFAULT" in refusal
    assert "IT portal" not in refusal


async def test_help_and_scope(world: World) -> None:
    assert "/ask scope" in text_of(await world.command("help"))
    assert "/ask connect" in text_of(await world.command(""))
    assert "workspace *alpha*" in text_of(await world.command("scope"))
    assert "workspace *beta*" in text_of(await world.command("scope", channel="CBETA"))
    unmapped = text_of(await world.command("scope", channel="CNEW"))
    assert "not connected" in unmapped and "channel map slack" in unmapped


async def test_connect_and_disconnect_need_the_workspace_access_list(world: World) -> None:
    denied = text_of(await world.command("connect beta", channel="CNEW", user="UNOBODY"))
    assert "not one of its chat admins" in denied and "workspace admins add beta slack UNOBODY" in denied
    ghost = text_of(await world.command("connect nosuch", channel="CNEW", user=ADMIN))
    assert "not one of its chat admins" in ghost  # no probing for names
    assert "not connected" in text_of(await world.command("scope", channel="CNEW"))
    assert "Connected" in text_of(await world.command("connect beta", channel="CNEW", user=ADMIN))
    assert "workspace *beta*" in text_of(await world.command("scope", channel="CNEW"))
    refused = text_of(await world.command("disconnect", channel="CNEW", user="UNOBODY"))
    assert "not a chat admin" in refused
    assert "Disconnected" in text_of(await world.command("disconnect", channel="CNEW", user=ADMIN))
    assert "not connected" in text_of(await world.command("scope", channel="CNEW"))
    shared = text_of(await world.command("connect alpha", channel="CSHARED", user=ADMIN))
    assert "Only an internal channel" in shared


@pytest.mark.parametrize("case", ["bad", "stale", "missing"])
async def test_bad_stale_and_missing_signatures_are_refused_with_nothing_processed(
    world: World, case: str
) -> None:
    body = payloads.slash_command(
        team=world.team,
        channel="CALPHA",
        user="USIG",
        text="VPN access?",
        response_url=world.fake.response_url("sig"),
    )
    if case == "bad":
        headers = payloads.signed_headers("0" * 32, body, content_type=FORM)
    elif case == "stale":
        headers = payloads.signed_headers(SECRET, body, content_type=FORM, timestamp=int(time.time()) - 600)
    else:
        headers = {"Content-Type": FORM}
    response = await world.http.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 401
    event = payloads.mention(team=world.team, channel="CALPHA", user="USIG", text="<@U1> VPN?", ts="1.2")
    tampered = payloads.signed_headers(SECRET, event, content_type="application/json")
    response = await world.http.post("/slack/events", content=event.replace("VPN", "vpn"), headers=tampered)
    assert response.status_code == 401
    await world.fake.wait(lambda: True)
    import asyncio

    await asyncio.sleep(0.5)
    # only the start-up token check (auth.test) ever reached Slack
    assert [c.method for c in world.fake.calls] == ["auth.test"] and world.fake.responses == {}
    async with world.live.services.sessions() as session:
        assert await session.scalar(select(func.count(AnswerLog.id))) == 0


async def test_rate_limits_per_user_are_friendly(world: World) -> None:
    for _ in range(6):
        assert "abstained" not in text_of(await world.command("scope", user="URATE"))
    replies = [text_of(await world.command("VPN access?", user="URATE")) for _ in range(7)]
    assert sum("IT portal" in r for r in replies) == 6
    assert "taking a short break" in replies[-1] and "Try again in" in replies[-1]
    assert "IT portal" in text_of(await world.command("VPN access?", user="UOTHER"))


async def test_slack_429s_are_retried_after_retry_after(world: World) -> None:
    world.fake.throttle["chat.postMessage"] = 1
    await world.event(channel="CALPHA", user="U429", text="<@U0LAN0Z89> VPN access?", ts="1700000004.000001")
    await world.fake.wait(lambda: len(world.fake.of("chat.postMessage")) == 2)
    assert world.fake.throttle["chat.postMessage"] == 0
    assert "IT portal" in text_of(world.fake.of("chat.postMessage")[1].params)


async def test_a_command_during_an_outage_is_acknowledged_and_told_to_retry(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis down (the fault drill): the queue refuses the turn, answering in place fails too. The ack
    must stand (Bolt turned a listener failing after its ack into a 404) and the asker hears why."""

    async def queue_down(*args: object, **kwargs: object) -> None:
        raise TransientError("the job queue is unavailable: connection refused", retry_after_s=5)

    async def redis_down(*args: object, **kwargs: object) -> None:
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("hub.slack.enqueue_chat_turn", queue_down)
    monkeypatch.setattr(world.live.services.asker, "ask", redis_down)
    reply = await world.command("How do I get VPN access?", user="UOUTAGE")  # asserts 200 and an empty ack
    assert reply["response_type"] == "ephemeral" and reply["text"] == UNAVAILABLE


async def test_a_worker_that_cannot_answer_tells_the_asker(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL restarting under the worker (the fault drill): the job fails, the asker hears why."""

    async def database_down(*args: object, **kwargs: object) -> None:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")

    assert world.worker is not None
    monkeypatch.setattr(world.worker.ctx["chat"].slack.services.asker, "ask", database_down)
    reply = await world.command("How do I get VPN access?", user="UDBDOWN")
    assert reply["response_type"] == "ephemeral" and reply["text"] == UNAVAILABLE
