"""Adaptive Card 1.5 rendering of neutral replies: the only Teams-specific presentation code.

Teams renders Adaptive Cards up to schema 1.5 and caps a message at about 28 KB; texts are clipped so a
card with 10 citations stays well under that. Buttons are ``Action.Execute`` (universal actions): their
``verb`` and ``data`` come back as an ``adaptiveCard/action`` invoke.
"""

from __future__ import annotations

from typing import Any

from bots.commands import Reply
from core.models import Answer, Citation

Card = dict[str, Any]
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
ANSWER_MAX = 6000
QUOTE_MAX = 600
TITLE_MAX = 80
MAX_CITATIONS = 10
MAX_RELATED = 5
FEEDBACK, RELATED = "feedback", "related"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def plain(text: str) -> str:
    """Text shown verbatim: neutralise the markdown characters Adaptive Cards would interpret."""
    for char in "\\*_[]`":
        text = text.replace(char, "\\" + char)
    return text


def text_block(text: str, **extra: Any) -> Card:
    return {"type": "TextBlock", "text": text, "wrap": True, **extra}


def card(body: list[Card]) -> Card:
    return {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": body}


def execute(title: str, verb: str, data: dict[str, Any]) -> Card:
    return {"type": "Action.Execute", "title": clip(title, TITLE_MAX), "verb": verb, "data": data}


def citation_blocks(citation: Citation) -> list[Card]:
    title = plain(citation.title or citation.document_id)
    url = citation.url or ""
    safe = url.startswith(("http://", "https://")) and not set(url) & set("() <>")
    link = f"[{title}]({url})" if safe else title
    return [
        text_block(f"**[{citation.n}]** {link}", spacing="Medium"),
        text_block(plain(clip(citation.quote, QUOTE_MAX)), isSubtle=True, spacing="None"),
    ]


def answer_card(answer: Answer, token: str | None) -> Card:
    body = [text_block(plain(clip(answer.answer, ANSWER_MAX)))]
    for citation in answer.citations[:MAX_CITATIONS]:
        body += citation_blocks(citation)
    body.append(
        text_block(f"Confidence {answer.confidence:.0%} · workspace {plain(answer.workspace)}", isSubtle=True)
    )
    related = [q for q in answer.related_questions if q.strip()][:MAX_RELATED]
    if related:
        body.append(text_block("Related questions:", weight="Bolder"))
        actions = [execute(q, RELATED, {"question": q}) for q in related]
        body.append({"type": "ActionSet", "actions": actions})
    if token:
        feedback = [
            execute("👍", FEEDBACK, {"token": token, "rating": 1}),
            execute("👎", FEEDBACK, {"token": token, "rating": -1}),
        ]
        body.append({"type": "ActionSet", "actions": feedback})
    return card(body)


def info_card(reply: Reply) -> Card:
    prefix = "🚫 " if reply.kind == "refusal" else ""
    body = [text_block(prefix + reply.text)]
    if reply.how_to:
        body.append(text_block(reply.how_to, isSubtle=True))
    return card(body)


def reply_card(reply: Reply) -> Card:
    if reply.answer is not None:
        return answer_card(reply.answer, reply.answer_token)
    return info_card(reply)


def welcome_card(help_reply: Reply) -> Card:
    return card(
        [text_block("Hi! I'm Switchboard.", size="Large", weight="Bolder"), text_block(help_reply.text)]
    )


def fallback_text(reply: Reply) -> str:
    return clip(reply.answer.answer if reply.answer is not None else reply.text, 2000)
