"""Background jobs: their DB records (status, progress, counts, per-item errors) and the ports they call.

A record is created when a job is queued and is the truth about it; a worker updates it as it goes and
publishes each new snapshot through the ``JobEvents`` port (hub wires it to Redis pub/sub). Jobs run at
least once, so every update here is safe to repeat: a retried job starts a new attempt on the same record,
and its progress never goes backwards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Sessions
from core.errors import NotFound
from core.push import GraphToken
from core.tables import Job, Source, utcnow

JobKind = Literal["upload", "sync", "webhook"]
TERMINAL = frozenset({"done", "failed"})
MAX_ERRORS = 1000  # per job; the counts still count every failure


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What happened to one item of a job (a file, a document, a delivery)."""

    item: str
    status: str  # created | updated | unchanged | failed | skipped | ...
    error: str | None = None


Report = Callable[[list[ItemResult]], Awaitable[object]]


class JobEvents(Protocol):
    """Where job snapshots go as they change (hub: Redis pub/sub, streamed as server-sent events)."""

    async def publish(self, snapshot: dict[str, Any]) -> None: ...


class SyncSource(Protocol):
    """Port the connectors fill: fetch changes of one source and ingest them, reporting each item."""

    async def __call__(self, source: Source, report: Report) -> None: ...


class DeliverWebhook(Protocol):
    """Port the outbound webhooks fill: deliver one signed request described by the job's params."""

    async def __call__(self, workspace_id: int, params: dict[str, Any]) -> ItemResult: ...


@dataclass
class JobPorts:
    """Implementations registered by the outer packages (wired in hub). Missing ones are skipped cleanly."""

    syncers: dict[str, SyncSource] = field(default_factory=dict)  # by source type
    deliver_webhook: DeliverWebhook | None = None
    graph_token: GraphToken | None = None  # a Graph access token for a source (Graph subscriptions)


def snapshot(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "workspace_id": job.workspace_id,
        "kind": job.kind,
        "status": job.status,
        "progress": job.progress,
        "total": job.total,
        "counts": dict(job.counts or {}),
        "errors": list(job.errors or []),
        "attempts": job.attempts,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


async def create(
    session: AsyncSession, workspace_id: int, kind: JobKind, params: dict[str, Any], *, total: int = 0
) -> Job:
    job = Job(workspace_id=workspace_id, kind=kind, params=params, total=total, updated_at=utcnow())
    session.add(job)
    await session.flush()
    return job


async def get(session: AsyncSession, workspace_id: int, job_id: int) -> Job:
    """A job of this workspace; another workspace's job is missing, exactly like an unknown one."""
    job = await session.scalar(select(Job).where(Job.id == job_id, Job.workspace_id == workspace_id))
    if job is None:
        raise NotFound(f"job {job_id} not found")
    return job


async def recent(session: AsyncSession, workspace_id: int, *, limit: int = 50) -> list[Job]:
    rows = await session.scalars(
        select(Job).where(Job.workspace_id == workspace_id).order_by(Job.id.desc()).limit(limit)
    )
    return list(rows.all())


class JobRecorder:
    """One attempt at one job: start, report items, finish. Every change is written, then published."""

    def __init__(self, sessions: Sessions, events: JobEvents, job_id: int) -> None:
        self._sessions = sessions
        self._events = events
        self.job_id = job_id
        self._done = 0
        self._counts: dict[str, int] = {}
        self._errors: list[dict[str, str]] = []

    async def load(self) -> Job:
        async with self._sessions() as session:
            job = await session.get(Job, self.job_id)
        if job is None:
            raise NotFound(f"job {self.job_id} not found")
        return job

    async def start(self, *, total: int | None = None) -> Job:
        values: dict[str, Any] = {"status": "running", "attempts": Job.attempts + 1}
        if total is not None:
            values["total"] = total
        return await self._update(values, first_start=True)

    async def set_total(self, total: int) -> Job:
        return await self._update({"total": total})

    async def report(self, results: list[ItemResult]) -> Job:
        """Count finished items; progress is the larger of this attempt's and any earlier attempt's."""
        for result in results:
            self._counts[result.status] = self._counts.get(result.status, 0) + 1
            if result.error and len(self._errors) < MAX_ERRORS:
                self._errors.append({"item": result.item, "error": result.error})
        self._done += len(results)
        return await self._update(self._tallies(), progress_at_least=self._done)

    async def finish(self, status: Literal["done", "failed"], error: str | None = None) -> Job:
        values = {**self._tallies(), "status": status, "finished_at": utcnow()}
        if error:
            values["errors"] = [*self._errors, {"item": "", "error": error}][-MAX_ERRORS:]
        return await self._update(values)

    def _tallies(self) -> dict[str, Any]:
        return {"counts": dict(self._counts), "errors": list(self._errors)}

    async def _update(
        self, values: dict[str, Any], *, progress_at_least: int = 0, first_start: bool = False
    ) -> Job:
        async with self._sessions.begin() as session:
            await session.execute(
                update(Job).where(Job.id == self.job_id).values(**values, updated_at=utcnow())
            )
            job = await session.get(Job, self.job_id, populate_existing=True)
            if job is None:
                raise NotFound(f"job {self.job_id} not found")
            job.progress = max(job.progress, progress_at_least)
            if first_start and job.started_at is None:
                job.started_at = utcnow()
            await session.flush()
            state = snapshot(job)
        await self._events.publish(state)
        return job
