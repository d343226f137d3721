"""Block Kit rendering of neutral replies: the only Slack-specific presentation code.

Limits (https://docs.slack.dev/reference/block-kit): 50 blocks per message, 3,000 characters per section
text, 75 per button text, 2,000 per button value, 255 per action_id, 25 elements per actions block.
"""

from __future__ import annotations

from typing import Any

from bots.commands import Reply
from core.models import Answer, Citation

Block = dict[str, Any]
SECTION_MAX = 3000
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
QUOTE_MAX = 600
MAX_CITATIONS = 10
MAX_RELATED = 5
SHARE, FEEDBACK_UP, FEEDBACK_DOWN, RELATED = "share", "feedback_up", "feedback_down", "related"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_MAX)}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, 2000)}]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(text, BUTTON_TEXT_MAX), "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


def citation_block(citation: Citation) -> Block:
    title = escape(citation.title or citation.document_id).replace("|", "¦")
    url = citation.url or ""
    link = (
        f"<{url}|{title}>"
        if url.startswith(("http://", "https://")) and not set(url) & set("|<> ")
        else title
    )
    quote = "\n".join(f">{line}" for line in escape(clip(citation.quote, QUOTE_MAX)).splitlines() if line)
    return section(f"*[{citation.n}]* {link}\n{quote}")


def related_block(questions: list[str]) -> Block | None:
    usable = [q for q in questions if q.strip() and len(q) <= BUTTON_VALUE_MAX][:MAX_RELATED]
    if not usable:
        return None
    return {
        "type": "actions",
        "block_id": "related",
        "elements": [button(q, f"{RELATED}_{i}", q) for i, q in enumerate(usable)],
    }


def answer_blocks(answer: Answer, token: str | None, *, shared: bool = False) -> list[Block]:
    blocks: list[Block] = [section(escape(answer.answer))]
    blocks += [citation_block(c) for c in answer.citations[:MAX_CITATIONS]]
    blocks.append(context(f"Confidence {answer.confidence:.0%} · workspace *{answer.workspace}*"))
    related = related_block(answer.related_questions)
    if related is not None:
        blocks += [context("Related questions:"), related]
    if token:
        elements = [button("👍", FEEDBACK_UP, token), button("👎", FEEDBACK_DOWN, token)]
        if not shared:
            elements.append(button("Share with channel", SHARE, token, style="primary"))
        blocks.append({"type": "actions", "block_id": "answer_actions", "elements": elements})
    return blocks


def reply_message(reply: Reply, *, shared: bool = False, by_user: str | None = None) -> dict[str, Any]:
    """``text`` (the notification fallback) and ``blocks`` for chat.postMessage or a response_url."""
    if reply.answer is not None:
        blocks = answer_blocks(reply.answer, reply.answer_token, shared=shared)
        if by_user:
            blocks.insert(0, context(f"<@{by_user}> shared this answer"))
        return {"text": clip(reply.answer.answer, SECTION_MAX), "blocks": blocks}
    prefix = ":no_entry_sign: " if reply.kind == "refusal" else ""
    blocks = [section(prefix + reply.text)]
    if reply.how_to:
        blocks.append(context(reply.how_to))
    return {"text": clip(reply.text, SECTION_MAX), "blocks": blocks}
