"""Retention per workspace: questions (answer log, delivered chat answers, feedback) and conversation
turns older than the workspace's policy are deleted by a scheduled job. No policy: kept."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput
from core.protect_tables import RetentionPolicy
from core.tables import AnswerFeedback, AnswerLog, ChatAnswer, ConversationTurn, Workspace

MAX_DAYS = 36500
QUESTION_TABLES: tuple[Any, ...] = (AnswerFeedback, ChatAnswer, AnswerLog)


def check_days(days: int | None) -> int | None:
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"retention days must be between 1 and {MAX_DAYS} (or unset to keep forever)")
    return days


async def get_policy(session: AsyncSession, workspace: Workspace) -> RetentionPolicy:
    row = await session.get(RetentionPolicy, workspace.id)
    return row or RetentionPolicy(workspace_id=workspace.id, questions_days=None, conversations_days=None)


async def set_policy(
    session: AsyncSession, workspace: Workspace, questions_days: int | None, conversations_days: int | None
) -> RetentionPolicy:
    row = await session.get(RetentionPolicy, workspace.id)
    if row is None:
        row = RetentionPolicy(workspace_id=workspace.id)
        session.add(row)
    row.questions_days = check_days(questions_days)
    row.conversations_days = check_days(conversations_days)
    await session.flush()
    return row


async def enforce(session: AsyncSession, now: datetime) -> dict[str, int]:
    """Delete what each workspace's policy says is past its date; returns rows deleted per table."""
    counts: dict[str, int] = {}
    for policy in (await session.scalars(select(RetentionPolicy))).all():
        if policy.questions_days:
            cutoff = now - timedelta(days=policy.questions_days)
            for table in QUESTION_TABLES:
                where = (table.workspace_id == policy.workspace_id) & (table.created_at < cutoff)
                _add(counts, table.__tablename__, await session.execute(delete(table).where(where)))
        if policy.conversations_days:
            cutoff = now - timedelta(days=policy.conversations_days)
            where = (ConversationTurn.workspace_id == policy.workspace_id) & (
                ConversationTurn.created_at < cutoff
            )
            _add(counts, "conversation_turns", await session.execute(delete(ConversationTurn).where(where)))
    return counts


def _add(counts: dict[str, int], name: str, result: Any) -> None:
    counts[name] = counts.get(name, 0) + int(getattr(result, "rowcount", 0) or 0)
