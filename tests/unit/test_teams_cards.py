"""Adaptive Card rendering and Teams activity mapping, checked without a server."""

from __future__ import annotations

import json

import pytest
from botbuilder.schema import Activity

from bots.commands import Reply
from bots.teams import cards, origin
from core.models import Answer, Citation
from tests.support import teams as activities
from tests.support.adaptivecard import MAX_BYTES, violations


def big_answer() -> Answer:
    quote = "A [quoted] *passage* with `code` and " + "x" * 2000
    citations = [
        Citation(
            n=i,
            document_id=f"d{i}.md",
            title=f"Doc {i}",
            url=f"https://wiki.example/d{i}",
            source="upload",
            quote=quote,
            start=0,
            end=len(quote),
            score=0.5,
        )
        for i in range(1, 25)
    ]
    return Answer(
        workspace="alpha",
        question="q",
        answer="An answer. " * 2000,
        abstained=False,
        confidence=0.81,
        mode="extractive",
        citations=citations,
        related_questions=[f"related {i}?" for i in range(9)],
        model="extractive",
    )


def test_the_largest_answer_card_is_valid_and_under_the_teams_size_cap() -> None:
    card = cards.answer_card(big_answer(), "tok123")
    assert violations(card) == []
    assert len(json.dumps(card, ensure_ascii=False).encode()) < MAX_BYTES
    texts = [b.get("text", "") for b in card["body"]]
    assert "**[1]** [Doc 1](https://wiki.example/d1)" in texts
    assert any(t.startswith("A \\[quoted\\] \\*passage\\*") for t in texts)  # quotes shown verbatim
    assert "Confidence 81% · workspace alpha" in texts
    executes = [a for b in card["body"] if b["type"] == "ActionSet" for a in b["actions"]]
    assert [a["data"] for a in executes if a["verb"] == "feedback"] == [
        {"token": "tok123", "rating": 1},
        {"token": "tok123", "rating": -1},
    ]
    assert len([a for a in executes if a["verb"] == "related"]) == cards.MAX_RELATED


def test_unsafe_links_are_not_rendered_as_links() -> None:
    answer = big_answer()
    answer.citations[0].url = "javascript:alert(1)"
    card = cards.answer_card(answer, None)
    assert "javascript" not in json.dumps(card)
    assert not [b for b in card["body"] if b["type"] == "ActionSet" and b["actions"][0]["verb"] == "feedback"]


@pytest.mark.parametrize(
    ("card", "problem"),
    [
        ({"type": "AdaptiveCard", "version": "1.6", "body": []}, "version"),
        ({"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock"}]}, "lacks text"),
        ({"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "Carousel"}]}, "unknown element"),
        (
            {
                "type": "AdaptiveCard",
                "version": "1.5",
                "body": [{"type": "TextBlock", "text": "x", "size": "Huge"}],
            },
            "size",
        ),
        (
            {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "x" * 30000}]},
            "28 KB",
        ),
        (
            {
                "type": "AdaptiveCard",
                "version": "1.5",
                "body": [{"type": "ActionSet", "actions": [{"type": "Action.Http"}]}],
            },
            "unknown action",
        ),
    ],
)
def test_the_card_checker_catches_what_the_schema_forbids(card: dict[str, object], problem: str) -> None:
    assert any(problem in v for v in violations(card))


def test_refusals_carry_their_how_to() -> None:
    card = cards.reply_card(Reply("refusal", "No.", how_to="Ask an admin."))
    assert [b["text"] for b in card["body"]] == ["🚫 No.", "Ask an admin."] and violations(card) == []


def test_activities_map_as_design_says() -> None:
    channel = Activity().deserialize(
        activities.mention(
            team="19:t", channel="19:c", tenant="ten", text="hi", service_url="http://x/", root="9"
        )
    )
    who = origin.from_activity(channel)
    assert (who.team_id, who.channel_id, who.kind, who.tenant_id) == ("19:t", "19:c", "channel", "ten")
    assert who.thread_id == "19:c;messageid=9"
    assert origin.question_text(channel.text) == "hi"
    personal = origin.from_activity(Activity().deserialize(activities.fixture("personal_message.json")))
    tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    assert (personal.kind, personal.team_id, personal.tenant_id) == ("direct", tenant, tenant)
    group = origin.from_activity(
        Activity().deserialize(
            activities.group(tenant="t", text="x", service_url="http://x/", conversation="19:g")
        )
    )
    assert (group.kind, group.team_id, group.channel_id) == ("group", "chat", "19:g")
    assert origin.question_text("<at>Bot</at> what is <at id='2'>Ann</at> doing?") == "what is doing?"
