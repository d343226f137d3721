"""Answers delivered in chat, kept by a random token so share and feedback buttons can act on them.

Platform-neutral: a platform is an opaque string. Feedback rows copy the question, the answer and the
document ids, so each one stands alone for review.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, NotFound
from core.models import Answer, Asker
from core.tables import AnswerFeedback, ChatAnswer, Workspace

RATINGS = (1, -1)


async def record(session: AsyncSession, workspace: Workspace, asker: Asker, answer: Answer) -> ChatAnswer:
    row = ChatAnswer(
        token=secrets.token_hex(12),
        workspace_id=workspace.id,
        platform=asker.platform,
        team_id=asker.team_id,
        channel_id=asker.channel_id,
        user_id=asker.user_id,
        question=answer.question,
        answer=answer.answer,
        document_ids=list(dict.fromkeys(c.document_id for c in answer.citations)),
        payload=answer.model_dump(mode="json"),
    )
    session.add(row)
    await session.flush()
    return row


async def find(session: AsyncSession, token: str, workspace: Workspace) -> ChatAnswer:
    """The delivered answer with this token, only within ``workspace`` (another workspace's is not found)."""
    row = await session.scalar(
        select(ChatAnswer).where(ChatAnswer.token == token, ChatAnswer.workspace_id == workspace.id)
    )
    if row is None:
        raise NotFound("that answer is no longer available here")
    return row


def answer_of(row: ChatAnswer) -> Answer:
    return Answer.model_validate(row.payload)


async def rate(session: AsyncSession, row: ChatAnswer, platform: str, user_id: str, rating: int) -> None:
    """Store (or change) one user's rating of a delivered answer."""
    if rating not in RATINGS:
        raise InvalidInput("rating must be 1 or -1")
    found = await session.scalar(
        select(AnswerFeedback).where(
            AnswerFeedback.chat_answer_id == row.id,
            AnswerFeedback.platform == platform,
            AnswerFeedback.user_id == user_id,
        )
    )
    if found is None:
        found = AnswerFeedback(
            chat_answer_id=row.id,
            workspace_id=row.workspace_id,
            platform=platform,
            user_id=user_id,
            question=row.question,
            answer=row.answer,
            document_ids=list(row.document_ids),
            rating=rating,
        )
        session.add(found)
    found.rating = rating
    await session.flush()
