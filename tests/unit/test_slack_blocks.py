"""Every message shape the Slack bot renders stays within Block Kit limits, even for extreme answers."""

from __future__ import annotations

import pytest

from bots.commands import Reply
from bots.slack import blocks
from core.models import Answer, Citation
from tests.support.blockkit import violations


def answer(*, text_len: int, citations: int, quote_len: int, related: list[str]) -> Answer:
    return Answer(
        workspace="alpha",
        question="q?",
        answer=("<b>&answer " * text_len)[:text_len],
        abstained=False,
        confidence=0.73,
        mode="extractive",
        citations=[
            Citation(
                n=i + 1,
                document_id=f"doc-{i}",
                title=f"Title | with > odd <chars> {i}" * 5,
                url=f"https://wiki.example.com/page/{i}" if i % 2 else "not a url|>",
                source="upload",
                quote=("line of quoted text\n" * quote_len)[: quote_len * 20],
                start=0,
                end=quote_len * 20,
                score=0.5,
            )
            for i in range(citations)
        ],
        related_questions=related,
        model="extractive",
    )


@pytest.mark.parametrize(
    ("text_len", "citations", "quote_len", "related"),
    [
        (10, 0, 0, []),
        (12_000, 60, 400, ["x" * 3000, "What about hotels? " * 20, "", "a", "b", "c", "d", "e", "f"]),
        (2999, 10, 150, ["How do I page the SRE lead?"]),
    ],
)
@pytest.mark.parametrize("shared", [False, True])
def test_answers_fit_block_kit_limits(
    text_len: int, citations: int, quote_len: int, related: list[str], shared: bool
) -> None:
    rendered = answer(text_len=text_len, citations=citations, quote_len=quote_len, related=related)
    message = blocks.reply_message(Reply("answer", "", answer=rendered, answer_token="t" * 24), shared=shared)
    assert violations(message) == []
    assert len(message["blocks"]) <= 50
    ids = [e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert ("share" in ids) is not shared
    related_buttons = [i for i in ids if i.startswith("related_")]
    assert len(related_buttons) == min(5, len([q for q in related if q.strip() and len(q) <= 2000]))


def test_links_and_markup_are_escaped() -> None:
    rendered = answer(text_len=40, citations=2, quote_len=2, related=[])
    message = blocks.reply_message(Reply("answer", "", answer=rendered, answer_token="tok"))
    texts = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    assert "<b>" not in texts[0] and "&lt;b&gt;" in texts[0]
    assert texts[1].startswith("*[1]* Title ¦ with &gt; odd &lt;chars&gt;")  # no link for a non-URL
    assert "<https://wiki.example.com/page/1|Title ¦ with &gt; odd" in texts[2]


@pytest.mark.parametrize("kind", ["info", "refusal"])
def test_info_and_refusals_fit(kind: str) -> None:
    message = blocks.reply_message(Reply(kind, "x" * 5000, how_to="y" * 5000))  # type: ignore[arg-type]
    assert violations(message) == []


def test_the_validator_catches_what_slack_rejects() -> None:
    too_many = {"text": "t", "blocks": [{"type": "divider"}] * 51}
    oversized = blocks.section("x")
    oversized["text"]["text"] = "x" * 3001
    long_section = {"text": "t", "blocks": [oversized]}
    bad_button = {
        "text": "t",
        "blocks": [
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "y" * 76},
                        "action_id": "a",
                        "value": "v" * 2001,
                    },
                    {"type": "button", "text": {"type": "plain_text", "text": "ok"}, "action_id": "a"},
                ],
            }
        ],
    }
    assert violations(too_many) == ["51 blocks (max 50)"]
    assert violations(long_section) == ["section text of 3001 chars (1..3000)"]
    assert len(violations(bad_button)) == 3
    assert violations({"blocks": [blocks.section("x")]}) == ["blocks without a fallback text"]
