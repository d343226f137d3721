"""The audit log: append-only. This module only adds and reads; there is no update or delete path.

Every admin action and every data access (an answer, a search) is one ``AuditEvent``, keyed by the
workspace's name so it outlives the workspace. Readers see only the workspaces they may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.account_tables import AuditEvent
from core.db import Sessions


@dataclass(frozen=True, slots=True)
class Entry:
    actor: str
    action: str
    workspace: str | None = None
    target: str = ""
    channel: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    document_ids: list[str] = field(default_factory=list)


class AccessAudit(Protocol):
    """The port entry points use to record a data access (wired by ``hub``; ``AuditLog`` is the default)."""

    async def record(self, entry: Entry) -> None: ...


class AuditLog:
    """Writes entries in their own short transaction."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def record(self, entry: Entry) -> None:
        async with self._sessions.begin() as session:
            append(session, entry)


def asker_actor(platform: str, user_id: str | None) -> str:
    return f"{platform}:{user_id or 'unknown'}"


def append(session: AsyncSession, entry: Entry) -> None:
    session.add(
        AuditEvent(
            actor=entry.actor[:320],
            action=entry.action[:64],
            workspace=entry.workspace,
            target=entry.target,
            channel=entry.channel,
            detail=entry.detail,
            document_ids=entry.document_ids,
        )
    )


@dataclass(frozen=True, slots=True)
class Filter:
    actor: str | None = None
    workspace: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def scoped(filters: Filter, visible: Sequence[str] | None) -> Select[AuditEvent]:
    """The query for ``filters`` within ``visible`` workspace names (None: everything, for owners)."""
    query = select(AuditEvent)
    if visible is not None:
        query = query.where(AuditEvent.workspace.in_(list(visible)))
    if filters.actor:
        query = query.where(AuditEvent.actor == filters.actor)
    if filters.workspace:
        query = query.where(AuditEvent.workspace == filters.workspace)
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.since is not None:
        query = query.where(AuditEvent.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEvent.created_at < filters.until)
    return query.order_by(AuditEvent.id.desc())


async def read(
    session: AsyncSession, filters: Filter, visible: Sequence[str] | None, *, limit: int = 500
) -> list[AuditEvent]:
    return list((await session.scalars(scoped(filters, visible).limit(limit))).all())
