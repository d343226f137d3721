"""Shared state read when Prometheus scrapes the API: arq queue depth (Redis) and sync lag (database).

A part that cannot be read (Redis or the database down) keeps its last value and counts a scrape error:
``/metrics`` itself never fails because of it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog
from sqlalchemy import func, select

from core.tables import Source, Workspace
from hub.container import Services
from hub.metrics import StateGauges
from hub.queue import QUEUE

log = structlog.get_logger(__name__)
SCRAPE_TIMEOUT_S = 2.0


async def queue_depth(services: Services) -> int | None:
    if services.redis is None:
        return None
    return int(await services.redis.zcard(QUEUE))


async def source_sync_times(services: Services) -> list[tuple[str, str, str, datetime]]:
    query = select(
        Workspace.name, Source.name, Source.type, func.coalesce(Source.last_synced_at, Source.created_at)
    ).join(Workspace, Workspace.id == Source.workspace_id)
    async with services.sessions() as session:
        rows = (await session.execute(query)).all()
    return [(str(w), str(s), str(t), when) for w, s, t, when in rows]


async def refresh(gauges: StateGauges, services: Services) -> None:
    try:
        depth = await asyncio.wait_for(queue_depth(services), SCRAPE_TIMEOUT_S)
        if depth is not None:
            gauges.queue_depth.set(depth)
    except Exception as exc:
        gauges.scrape_errors.labels("queue").inc()
        log.warning("queue depth unavailable", error=type(exc).__name__)
    try:
        rows = await asyncio.wait_for(source_sync_times(services), SCRAPE_TIMEOUT_S)
        gauges.set_sync_lag(rows, datetime.now(UTC))
    except Exception as exc:
        gauges.scrape_errors.labels("sources").inc()
        log.warning("source sync lag unavailable", error=type(exc).__name__)
