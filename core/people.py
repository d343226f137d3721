"""GDPR: everything stored about one person, exported as JSON or erased.

A person is an email plus the chat/user ids they use (``Identity``): rows carry a platform user id, and
the REST and admin paths record the email itself as the user id. Questions (answer log, delivered chat
answers), feedback and conversation turns are deleted; cost records and audit entries are kept but
pseudonymised (their user id becomes a salted hash; the salt is thrown away). Conversation
turns carry no user id: a turn goes with the person's question it repeats (same workspace, same text).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.account_tables import AuditEvent
from core.errors import InvalidInput
from core.tables import AnswerFeedback, AnswerLog, ChatAnswer, ConversationTurn, LLMCall, Workspace

PSEUDONYM_PREFIX = "erased:"


@dataclass(frozen=True, slots=True)
class Identity:
    """One person: an email, and (platform, user id) pairs known to be theirs."""

    email: str
    accounts: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if "@" not in self.email or len(self.email) > 320:
            raise InvalidInput("a person is identified by an email address")

    def matches(self, platform: Any, user_id: Any) -> ColumnElement[bool]:
        """Rows whose user id is the email (any platform) or one of the (platform, user id) accounts."""
        clauses = [user_id == self.email]
        clauses += [and_(platform == p, user_id == u) for p, u in self.accounts]
        return or_(*clauses)

    def actors(self) -> list[str]:
        """How the audit log names this person: the email, or ``platform:user_id`` for chat askers."""
        return [self.email, *(f"{p}:{u}" for p, u in self.accounts)]

    def in_audit(self) -> ColumnElement[bool]:
        return or_(AuditEvent.actor.in_(self.actors()), AuditEvent.target.in_(self.actors()))

    def pseudonym(self, salt: str) -> str:
        digest = hashlib.sha256(f"{salt}:{self.email.lower()}".encode()).hexdigest()[:16]
        return PSEUDONYM_PREFIX + digest


def _row(obj: Any, columns: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in columns:
        value = getattr(obj, name)
        out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out


LOG_COLUMNS = (
    "id",
    "workspace_id",
    "platform",
    "team_id",
    "channel_id",
    "user_id",
    "question",
    "answer",
    "abstained",
    "mode",
    "document_ids",
    "created_at",
)
CHAT_COLUMNS = ("id", "workspace_id", "platform", "channel_id", "user_id", "question", "answer", "created_at")
FEEDBACK_COLUMNS = ("id", "workspace_id", "platform", "user_id", "rating", "question", "answer", "created_at")
TURN_COLUMNS = ("id", "workspace_id", "conversation_id", "question", "answer", "created_at")
COST_COLUMNS = (
    "id",
    "workspace_id",
    "platform",
    "channel_id",
    "user_id",
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "created_at",
)


AUDIT_COLUMNS = (
    "id",
    "created_at",
    "actor",
    "workspace",
    "action",
    "target",
    "channel",
    "detail",
    "document_ids",
)
ERASED = "[erased]"


def _audit_scope(who: Identity, workspace_id: int | None) -> ColumnElement[bool]:
    if workspace_id is None:
        return who.in_audit()
    name = select(Workspace.name).where(Workspace.id == workspace_id).scalar_subquery()
    return and_(who.in_audit(), AuditEvent.workspace == name)


def _scoped(clause: ColumnElement[bool], column: Any, workspace_id: int | None) -> ColumnElement[bool]:
    return clause if workspace_id is None else and_(clause, column == workspace_id)


async def _questions(session: AsyncSession, who: Identity, workspace_id: int | None) -> list[AnswerLog]:
    where = _scoped(who.matches(AnswerLog.platform, AnswerLog.user_id), AnswerLog.workspace_id, workspace_id)
    return list((await session.scalars(select(AnswerLog).where(where).order_by(AnswerLog.id))).all())


def _turns_of(questions: list[AnswerLog]) -> ColumnElement[bool]:
    pairs = {(q.workspace_id, q.question) for q in questions}
    if not pairs:
        return ConversationTurn.id.is_(None)
    return or_(*(and_(ConversationTurn.workspace_id == w, ConversationTurn.question == q) for w, q in pairs))


async def export(session: AsyncSession, who: Identity, workspace_id: int | None = None) -> dict[str, Any]:
    """Every row about the person, as JSON-ready dicts (one workspace, or all for the operator CLI)."""
    questions = await _questions(session, who, workspace_id)
    chats = await session.scalars(
        select(ChatAnswer).where(
            _scoped(
                who.matches(ChatAnswer.platform, ChatAnswer.user_id), ChatAnswer.workspace_id, workspace_id
            )
        )
    )
    feedback = await session.scalars(
        select(AnswerFeedback).where(
            _scoped(
                who.matches(AnswerFeedback.platform, AnswerFeedback.user_id),
                AnswerFeedback.workspace_id,
                workspace_id,
            )
        )
    )
    turns = await session.scalars(select(ConversationTurn).where(_turns_of(questions)))
    costs = await session.scalars(
        select(LLMCall).where(
            _scoped(who.matches(LLMCall.platform, LLMCall.user_id), LLMCall.workspace_id, workspace_id)
        )
    )
    audit = await session.scalars(select(AuditEvent).where(_audit_scope(who, workspace_id)))
    return {
        "person": {"email": who.email, "accounts": [list(a) for a in who.accounts]},
        "audit_events": [_row(r, AUDIT_COLUMNS) for r in audit.all()],
        "questions": [_row(r, LOG_COLUMNS) for r in questions],
        "chat_answers": [_row(r, CHAT_COLUMNS) for r in chats.all()],
        "feedback": [_row(r, FEEDBACK_COLUMNS) for r in feedback.all()],
        "conversation_turns": [_row(r, TURN_COLUMNS) for r in turns.all()],
        "llm_calls": [_row(r, COST_COLUMNS) for r in costs.all()],
    }


async def erase(session: AsyncSession, who: Identity, workspace_id: int | None = None) -> dict[str, int]:
    """Delete the person's questions, chat answers, feedback and conversation turns; pseudonymise costs
    under a random salt (so the pseudonym links the person's cost rows to each other, never to them)."""
    salt = secrets.token_hex(16)
    questions = await _questions(session, who, workspace_id)
    counts: dict[str, int] = {}
    turns = await session.execute(delete(ConversationTurn).where(_turns_of(questions)))
    counts["conversation_turns"] = _count(turns)
    for name, table in (("feedback", AnswerFeedback), ("chat_answers", ChatAnswer), ("questions", AnswerLog)):
        where = _scoped(who.matches(table.platform, table.user_id), table.workspace_id, workspace_id)
        counts[name] = _count(await session.execute(delete(table).where(where)))
    cost_where = _scoped(who.matches(LLMCall.platform, LLMCall.user_id), LLMCall.workspace_id, workspace_id)
    result = await session.execute(update(LLMCall).where(cost_where).values(user_id=who.pseudonym(salt)))
    counts["llm_calls_pseudonymised"] = _count(result)
    counts["audit_events_pseudonymised"] = await _pseudonymise_audit(session, who, salt, workspace_id)
    return counts


async def _pseudonymise_audit(
    session: AsyncSession, who: Identity, salt: str, workspace_id: int | None
) -> int:
    """The one write to the append-only audit log, as the law requires: the entries stay (what happened,
    where, which documents), the person goes: their name becomes the pseudonym, their questions are erased."""
    actors, pseudonym = set(who.actors()), who.pseudonym(salt)
    rows = (await session.scalars(select(AuditEvent).where(_audit_scope(who, workspace_id)))).all()
    for row in rows:
        if row.actor in actors:
            row.actor = pseudonym
            if row.action == "ask":
                row.target = ERASED  # the question they asked
        if row.target in actors:
            row.target = pseudonym
    await session.flush()
    return len(rows)


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
