"""Conversation memory: turns stored per workspace and conversation id, and follow-ups made standalone.

Without an LLM a follow-up ("and for contractors?", "what about London?") is rewritten by a heuristic:
a short question that starts with a continuation cue, or leans on a pronoun, borrows the previous
standalone question with the follow-up's words appended.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from core.db import Sessions
from core.tables import ConversationTurn, Workspace

CUE = re.compile(
    r"^(and|also|but|or|what about|how about|same for|and what about|and for|what if)\b[\s,]*", re.I
)
PRONOUN = re.compile(r"\b(it|its|that|this|those|these|they|them|there|he|she|the same)\b", re.I)
HISTORY_TURNS = 6
FOLLOW_UP_WORDS = 8


@dataclass(frozen=True, slots=True)
class Turn:
    question: str
    standalone: str
    answer: str


def is_follow_up(question: str) -> bool:
    words = question.split()
    return bool(CUE.match(question)) or (len(words) <= FOLLOW_UP_WORDS and bool(PRONOUN.search(question)))


def rewrite_heuristic(question: str, history: list[Turn]) -> str:
    """The previous standalone question, narrowed by the follow-up's own words."""
    if not history or not is_follow_up(question):
        return question
    previous = history[-1].standalone.rstrip(" ?.!")
    addition = CUE.sub("", question).strip().rstrip(" ?.!")
    if not addition:
        return history[-1].standalone
    return f"{previous} {addition}?"


class ConversationMemory:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def history(self, workspace: Workspace, conversation_id: str) -> list[Turn]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(ConversationTurn)
                .where(
                    ConversationTurn.workspace_id == workspace.id,
                    ConversationTurn.conversation_id == conversation_id,
                )
                .order_by(ConversationTurn.id.desc())
                .limit(HISTORY_TURNS)
            )
            turns = [Turn(r.question, r.standalone, r.answer) for r in rows]
        return turns[::-1]

    async def record(self, workspace: Workspace, conversation_id: str, turn: Turn) -> None:
        async with self._sessions.begin() as session:
            session.add(
                ConversationTurn(
                    workspace_id=workspace.id,
                    conversation_id=conversation_id,
                    question=turn.question,
                    standalone=turn.standalone,
                    answer=turn.answer,
                )
            )
