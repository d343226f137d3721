"""Job progress: snapshots published on Redis pub/sub by workers, streamed to clients as server-sent events.

Pub/sub is fire-and-forget, so the stream never trusts it alone: it subscribes first, then reads the
job's record (the truth), and re-reads the record whenever no event came for a while. A client therefore
sees every state change the record went through at its own pace, and always the final one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core import jobs
from core.jobs import TERMINAL
from hub.container import Services

log = structlog.get_logger(__name__)


def channel(job_id: int) -> str:
    return f"switchboard:job:{job_id}"


class RedisJobEvents:
    """The ``JobEvents`` port on Redis pub/sub. A Redis hiccup loses an event, never the job."""

    def __init__(self, redis: Redis | None) -> None:
        self._redis = redis

    async def publish(self, snapshot: dict[str, Any]) -> None:
        if self._redis is None:
            return
        try:
            await self._redis.publish(channel(int(snapshot["id"])), json.dumps(snapshot))
        except (RedisError, OSError) as exc:
            log.warning("job event not published", job=snapshot["id"], error=str(exc))


def frame(snapshot: dict[str, Any]) -> str:
    return f"id: {snapshot['progress']}\nevent: job\ndata: {json.dumps(snapshot)}\n\n"


async def current(services: Services, workspace_id: int, job_id: int) -> dict[str, Any]:
    async with services.sessions() as session:
        return jobs.snapshot(await jobs.get(session, workspace_id, job_id))


def newer(snapshot: dict[str, Any], last: dict[str, Any]) -> bool:
    """Whether a snapshot moves the stream forward (events may arrive late, progress never goes back)."""
    if snapshot["progress"] < last["progress"] or last["status"] in TERMINAL:
        return False
    return snapshot != last


async def snapshots(
    services: Services, workspace_id: int, job_id: int, *, recheck_s: float = 2.0
) -> AsyncIterator[dict[str, Any] | None]:
    """One job's current state, then every change until it is done or failed (None: nothing new yet)."""
    pubsub = services.redis.pubsub() if services.redis is not None else None
    if pubsub is not None:
        await pubsub.subscribe(channel(job_id))
    try:
        last = await current(services, workspace_id, job_id)
        yield last
        while last["status"] not in TERMINAL:
            snapshot = await next_snapshot(pubsub, recheck_s)
            if snapshot is None:
                snapshot = await current(services, workspace_id, job_id)
            if newer(snapshot, last):
                last = snapshot
                yield last
            else:
                yield None
    finally:
        if pubsub is not None:
            await pubsub.aclose()  # type: ignore[no-untyped-call]


async def follow(services: Services, workspace_id: int, job_id: int) -> AsyncIterator[str]:
    """The same as server-sent event frames, with a keep-alive comment when nothing changed."""
    async for snapshot in snapshots(services, workspace_id, job_id):
        yield ": keep-alive\n\n" if snapshot is None else frame(snapshot)


async def next_snapshot(pubsub: Any, timeout_s: float) -> dict[str, Any] | None:
    if pubsub is None:
        await asyncio.sleep(timeout_s)
        return None
    try:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout_s)
    except (RedisError, OSError):
        await asyncio.sleep(timeout_s)
        return None
    if message is None:
        return None
    snapshot: dict[str, Any] = json.loads(message["data"])
    return snapshot
