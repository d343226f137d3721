"""arq worker: background jobs with their resources in ``ctx``.

``switchboard worker`` runs one; ``serve`` in embedded mode runs one as a child process.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import structlog
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker

from core import workspaces
from core.indexing import ingest_all
from hub.container import open_services
from hub.files import read_documents
from hub.settings import Settings

log = structlog.get_logger(__name__)

QUEUE = "switchboard:queue"


async def ingest_paths(
    ctx: dict[str, Any],
    workspace: str,
    paths: list[str],
    collection: str | None = None,
    folders_as_collections: bool = False,
) -> dict[str, int]:
    """Ingest files from the worker's file system. Idempotent: unchanged files are skipped by hash."""
    services = ctx["services"]
    documents = read_documents(
        [Path(p) for p in paths], collection=collection, folders_as_collections=folders_as_collections
    )
    async with services.sessions.begin() as session:
        target = await workspaces.get_or_create(session, workspace)
    results = await ingest_all(services.indexer, target, documents)
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    log.info("ingest_paths done", workspace=workspace, **counts)
    return counts


def redis_settings(settings: Settings) -> RedisSettings:
    if not settings.redis_url:
        raise ValueError("the worker needs SWITCHBOARD_REDIS_URL (serve starts an embedded one)")
    return RedisSettings.from_dsn(settings.redis_url)


async def enqueue_pool(settings: Settings) -> ArqRedis:
    return await create_pool(redis_settings(settings), default_queue_name=QUEUE)


def build_worker(settings: Settings, *, burst: bool = False) -> Worker:
    stack: dict[str, Any] = {}

    async def startup(ctx: dict[str, Any]) -> None:
        manager = open_services(settings)
        ctx["services"] = await manager.__aenter__()
        stack["manager"] = manager

    async def shutdown(ctx: dict[str, Any]) -> None:
        manager = stack.pop("manager", None)
        if manager is not None:
            await manager.__aexit__(None, None, None)

    return Worker(
        functions=[ingest_paths],
        redis_settings=redis_settings(settings),
        queue_name=QUEUE,
        on_startup=startup,
        on_shutdown=shutdown,
        burst=burst,
        max_jobs=4,
        job_timeout=3600,
        handle_signals=not burst,
    )


def run_worker(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM, then finish in-flight jobs' bookkeeping and close connections."""
    asyncio.set_event_loop(asyncio.new_event_loop())
    build_worker(settings).run()
