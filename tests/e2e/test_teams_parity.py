"""Parity: the same question asked through the Slack bot and the Teams bot, from conversations mapped to
the same workspace, gets the same answer text, the same cited documents and the same refusals.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from core.tables import ChatAnswer
from tests.e2e.conftest import text_of
from tests.e2e.teams_world import TeamsWorld, shown
from tests.fakes.teams import Sent
from tests.support import slack as payloads

QUESTIONS = ["How do I get VPN access?", "Who do I page for a SEV1?", "what is the pager code?"]
# place -> (Slack channel and extra slash-command fields, how to ask in Teams)
PLACES: dict[str, tuple[str, dict[str, str]]] = {
    "alpha channel": ("CALPHA", {}),
    "beta channel": ("CBETA", {}),
    "unmapped channel": ("CNEW", {}),
    "direct": ("D0001", {"channel_name": "directmessage"}),
}


def teams_activity(teams: TeamsWorld, place: str, question: str) -> dict[str, Any]:
    if place == "direct":
        return teams.personal(question)
    return teams.mention(question, channel=place.split(maxsplit=1)[0].replace("unmapped", "new"))


async def last_answer(teams: TeamsWorld, platform: str) -> ChatAnswer | None:
    async with teams.slack.live.services.sessions() as session:
        rows = await session.scalars(
            select(ChatAnswer).where(ChatAnswer.platform == platform).order_by(ChatAnswer.id.desc())
        )
        return rows.first()


def first_text_slack(reply: dict[str, Any]) -> str:
    return str(reply["blocks"][0]["text"]["text"]).removeprefix(":no_entry_sign: ")


def first_text_teams(sent: Sent) -> str:
    return str(sent.activity["attachments"][0]["content"]["body"][0]["text"]).removeprefix("🚫 ")


async def ask_slack(teams: TeamsWorld, place: str, question: str) -> dict[str, Any]:
    channel, extra = PLACES[place]
    world = teams.slack
    key = world.key()

    body = payloads.slash_command(
        team=world.team,
        channel=channel,
        user="UPARITY",
        text=question,
        response_url=world.fake.response_url(key),
        **extra,
    )
    assert (await world.post(body, "application/x-www-form-urlencoded")).status_code == 200
    await world.fake.wait(lambda: key in world.fake.responses)
    return world.fake.responses[key][0]


@pytest.mark.parametrize("place", list(PLACES))
async def test_slack_and_teams_give_the_same_answers_citations_and_refusals(
    teams: TeamsWorld, place: str
) -> None:
    for question in QUESTIONS:
        slack_reply = await ask_slack(teams, place, question)
        teams_reply = await teams.send(teams_activity(teams, place, question))
        refused = place == "unmapped channel"
        assert ("no_entry_sign" in text_of(slack_reply)) == refused == ("🚫" in shown(teams_reply))
        if refused:
            assert first_text_slack(slack_reply) == first_text_teams(teams_reply)
            continue
        via_slack, via_teams = await last_answer(teams, "slack"), await last_answer(teams, "teams")
        assert via_slack is not None and via_teams is not None
        assert via_slack.question == via_teams.question == question
        assert via_slack.answer == via_teams.answer and via_slack.answer
        assert via_slack.document_ids == via_teams.document_ids
        assert via_slack.workspace_id == via_teams.workspace_id
        for document in via_teams.document_ids:
            assert document.removesuffix(".md") in text_of(slack_reply).lower()
            assert document.removesuffix(".md") in shown(teams_reply).lower()
