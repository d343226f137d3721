"""The audit log: append-only. This module only adds and reads; there is no update or delete path.

Every admin action and every data access (an answer, a search) is one ``AuditEvent``, keyed by the
workspace's name so it outlives the workspace. Readers see only the workspaces they may see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from core.account_tables import AuditEvent
from core.db import Sessions

log = logging.getLogger(__name__)


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


class BatchedAuditLog:
    """Entries written together, ``delay_s`` after the first of a batch arrives, for the data-access
    records of a request path that must not wait for them (REST searches).

    Written one transaction each after their responses, they cost the next request ~3 ms on SQLite
    (bench/README.md, search latency); one transaction every 0.1 s under sustained load still cost each
    search ~2 ms of the web process's loop, one a second almost nothing. An entry waits at most
    ``delay_s`` in memory (a process killed meanwhile loses it, as it lost the one write pending after a
    response before); a database outage keeps entries pending, up to ``max_pending``, and retries;
    ``closed`` writes what is left. ``delay_s`` is the deployment's ``SWITCHBOARD_API__AUDIT_BATCH_S``.
    """

    def __init__(
        self, sessions: Sessions, *, delay_s: float, retry_s: float = 1.0, max_pending: int = 10_000
    ) -> None:
        self._sessions = sessions
        self._delay_s = delay_s
        self._retry_s = retry_s
        self._max_pending = max_pending
        self._pending: list[Entry] = []
        self._writer: asyncio.Task[None] | None = None
        self._writing = False
        self.dropped = 0

    def add(self, entry: Entry) -> None:
        if len(self._pending) >= self._max_pending:
            self.dropped += 1
            log.error("audit entry dropped: %d pending while the database is unreachable", len(self._pending))
            return
        self._pending.append(entry)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_soon())

    async def _write_soon(self) -> None:
        await asyncio.sleep(self._delay_s)
        while True:
            try:
                await self.flush()
                return
            except (SQLAlchemyError, OSError) as exc:
                log.warning("audit entries pending (%d): %s", len(self._pending), exc)
                await asyncio.sleep(self._retry_s)

    async def flush(self) -> None:
        """Write every pending entry; on failure the unwritten ones stay pending."""
        while self._pending:
            batch, self._pending = self._pending[:500], self._pending[500:]
            self._writing = True
            try:
                async with self._sessions.begin() as session:
                    for entry in batch:
                        append(session, entry)
            except BaseException:
                self._pending[:0] = batch
                raise
            finally:
                self._writing = False

    @contextlib.asynccontextmanager
    async def closed(self) -> AsyncIterator[BatchedAuditLog]:
        """This log, its pending entries written when the block ends (a process's orderly stop)."""
        try:
            yield self
        finally:
            await self._stop_writer()
            try:
                await self.flush()
            except (SQLAlchemyError, OSError) as exc:
                log.error("%d audit entries not written at shutdown: %s", len(self._pending), exc)

    async def _stop_writer(self) -> None:
        """Let a write under way finish (a cancelled commit might have committed), cancel a waiting one."""
        writer = self._writer
        if writer is None or writer.done():
            return
        if self._writing:
            await asyncio.wait({writer}, timeout=10)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer


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
