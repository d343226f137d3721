"""The arq queue: its name, enqueueing a recorded job, and the lease that frees a crashed worker's job.

A job is enqueued under the arq id ``job:<record id>``, so enqueueing the same record twice is a no-op
while it is queued or running (arq refuses a duplicate id): delivery is at-least-once, never twice at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import update

from core import jobs
from core.errors import TransientError
from core.jobs import JobKind
from core.tables import Job, utcnow
from hub.background import alongside
from hub.container import Services
from hub.correlation import enqueue_job

QUEUE = "switchboard:queue"
FUNCTIONS: dict[JobKind, str] = {
    "upload": "ingest_upload",
    "sync": "sync_source",
    "webhook": "deliver_webhook",
}


CHAT_TURN_EXPIRES_S = 600  # a chat answer nobody picked up in 10 minutes is not worth sending late


def arq_id(job_id: int) -> str:
    return f"job:{job_id}"


async def enqueue(redis: Redis, job: Job, *, defer_s: float | None = None) -> None:
    """Queue the worker function of a recorded job (to run ``defer_s`` from now, when given); a Redis
    outage is a TransientError (503)."""
    pool = ArqRedis(connection_pool=redis.connection_pool, default_queue_name=QUEUE)
    try:
        await pool.enqueue_job(
            FUNCTIONS[job.kind],  # type: ignore[index]
            job.id,
            _job_id=arq_id(job.id),
            _defer_by=defer_s,
        )
    except (RedisError, OSError) as exc:
        raise TransientError(f"the job queue is unavailable: {exc}", retry_after_s=5) from exc


async def enqueue_chat_turn(redis: Redis, function: str, turn: dict[str, Any]) -> None:
    """Queue the answer of an acknowledged chat request (not recorded: it belongs to no workspace until
    the worker resolves its channel). Not retried: a second run would post the answer twice."""
    pool = ArqRedis(connection_pool=redis.connection_pool, default_queue_name=QUEUE)
    try:
        await enqueue_job(pool, function, turn, _expires=CHAT_TURN_EXPIRES_S)
    except (RedisError, OSError) as exc:
        raise TransientError(f"the job queue is unavailable: {exc}", retry_after_s=5) from exc


async def submit(
    services: Services,
    workspace_id: int,
    kind: JobKind,
    params: dict[str, Any],
    total: int = 0,
    *,
    defer_s: float | None = None,
) -> Job:
    """Record a job, then queue it. Other packages reach this through hub wiring (webhooks, syncs)."""
    if services.redis is None:
        raise TransientError("no job queue is configured (set SWITCHBOARD_REDIS_URL or run `serve`)")
    async with services.sessions.begin() as session:
        job = await jobs.create(session, workspace_id, kind, params, total=total)
    try:
        await enqueue(services.redis, job, defer_s=defer_s)
    except TransientError as exc:  # never leave a record that no worker will ever pick up
        async with services.sessions.begin() as session:
            await session.execute(
                update(Job)
                .where(Job.id == job.id)
                .values(status="failed", errors=[{"item": "", "error": str(exc)}], finished_at=utcnow())
            )
        raise
    return job


@contextlib.asynccontextmanager
async def lease(redis: Redis, arq_job_id: str, lease_s: float) -> AsyncIterator[None]:
    """Keep arq's claim on a running job alive in short renewals; if this process dies, the claim lapses
    within ``lease_s`` and another worker (or this one, restarted) runs the job again."""
    key = in_progress_key_prefix + arq_job_id

    async def renew() -> None:
        while True:
            with contextlib.suppress(RedisError, OSError):
                await redis.pexpire(key, int(lease_s * 1000))
            await asyncio.sleep(lease_s / 3)

    async with alongside(renew()):
        yield
