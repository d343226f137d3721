"""Source syncs, outbound webhook deliveries and the cron that schedules syncs by refresh interval.

Connectors and webhooks plug in through ``core.jobs.JobPorts`` (on ``Services.ports``); until one is
registered for a source type or for webhooks, these jobs finish cleanly as ``skipped``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, update

from core import jobs
from core.errors import AuthError, TransientError
from core.events import SyncCompleted, SyncFailed
from core.jobs import ItemResult, JobRecorder
from core.tables import Job, Source, Workspace, as_utc, utcnow
from hub.container import Services
from hub.push import clear_pending
from hub.queue import enqueue

log = structlog.get_logger(__name__)


async def set_source(services: Services, source_id: int, **values: Any) -> None:
    async with services.sessions.begin() as session:
        await session.execute(update(Source).where(Source.id == source_id).values(**values))


async def run_sync(services: Services, recorder: JobRecorder, job: Job) -> None:
    source_id = int(job.params.get("source_id", 0))
    async with services.sessions() as session:
        source = await session.get(Source, source_id)
    if source is None or source.workspace_id != job.workspace_id:
        await recorder.finish("failed", f"source {source_id} not found")
        return
    await recorder.start()
    await clear_pending(services, source.id)  # pushes from now on queue the next sync (hub.push)
    syncer = services.ports.syncers.get(source.type)
    if syncer is None:
        note = f"no connector is registered for source type {source.type!r}"
        await recorder.report([ItemResult(source.name, "skipped", note)])
        await set_source(services, source.id, status="idle", last_error=note, last_synced_at=utcnow())
        await recorder.finish("done")
        return
    await set_source(services, source.id, status="syncing")
    announce = SyncAnnouncer(services, source)
    try:
        await syncer(source, recorder.report)
    except AuthError as exc:
        await set_source(services, source.id, status="paused", last_error=str(exc))
        await announce.failed(exc)
        raise
    except Exception as exc:
        await set_source(services, source.id, status="error", last_error=str(exc))
        await announce.failed(exc)
        raise
    await set_source(services, source.id, status="idle", last_error=None, last_synced_at=utcnow())
    finished = await recorder.finish("done")
    await announce.completed(dict(finished.counts or {}))


class SyncAnnouncer:
    """Publishes a sync's outcome (outbound webhooks subscribe); the indexer announces each changed doc."""

    def __init__(self, services: Services, source: Source) -> None:
        self._services = services
        self._source = source
        self._workspace: str | None = None

    async def workspace(self) -> str:
        if self._workspace is None:
            async with self._services.sessions() as session:
                found = await session.get(Workspace, self._source.workspace_id)
            self._workspace = found.name if found is not None else ""
        return self._workspace

    async def completed(self, counts: dict[str, int]) -> None:
        event = SyncCompleted(await self.workspace(), self._source.id, self._source.name, counts)
        await self._services.events.publish(event)

    async def failed(self, exc: Exception) -> None:
        retrying = isinstance(exc, TransientError)
        event = SyncFailed(await self.workspace(), self._source.id, self._source.name, str(exc), retrying)
        await self._services.events.publish(event)


async def run_webhook(services: Services, recorder: JobRecorder, job: Job) -> None:
    await recorder.start(total=1)
    deliver = services.ports.deliver_webhook
    if deliver is None:
        await recorder.report([ItemResult("webhook", "skipped", "no webhook deliverer is registered")])
    else:
        await recorder.report([await deliver(job.workspace_id, dict(job.params))])
    await recorder.finish("done")


def due(source: Source, now: datetime) -> bool:
    if not source.refresh_interval_s or source.status not in ("idle", "error"):
        return False
    last = source.last_synced_at
    if last is None:
        return True
    return as_utc(last) + timedelta(seconds=source.refresh_interval_s) <= now


async def claim_due(services: Services) -> list[Job]:
    """Mark each due source queued (one claimant wins per source) and record one sync job for it."""
    now = utcnow()
    created: list[Job] = []
    async with services.sessions.begin() as session:
        sources = (await session.scalars(select(Source).where(Source.refresh_interval_s.is_not(None)))).all()
        for source in (s for s in sources if due(s, now)):
            claimed = await session.execute(
                update(Source)
                .where(Source.id == source.id, Source.status == source.status)
                .values(status="queued")
            )
            if claimed.rowcount == 1:  # type: ignore[attr-defined]
                created.append(
                    await jobs.create(session, source.workspace_id, "sync", {"source_id": source.id})
                )
    return created


async def refresh_sources(ctx: dict[str, Any]) -> int:
    """Cron: queue a sync for every source whose refresh interval has passed. Returns how many."""
    services: Services = ctx["services"]
    queued = await claim_due(services)
    for job in queued:
        if services.redis is not None:
            await enqueue(services.redis, job)
    if queued:
        log.info("scheduled source syncs", count=len(queued))
    return len(queued)
