"""arq worker: background jobs with their resources in ``ctx``.

``switchboard worker`` runs one; ``serve`` in embedded mode runs one as a child process.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIServer

import structlog
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker
from prometheus_client import start_http_server
from redis.asyncio import Redis

from core import workspaces
from core.indexing import ingest_all
from hub.container import open_services
from hub.correlation import observed
from hub.files import read_documents
from hub.metrics import QUEUE_KEY, Metrics
from hub.settings import Settings

log = structlog.get_logger(__name__)

QUEUE = QUEUE_KEY


@observed
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


def health_check_key(host: str | None = None) -> str:
    """One arq health-check key per host (container / pod), so a check sees its own worker."""
    return f"{QUEUE}:health-check:{host or socket.gethostname()}"


async def check_health(settings: Settings) -> bool:
    """True when this host's worker wrote its health-check beat recently (``switchboard worker --check``)."""
    redis_settings(settings)  # the same clear error as the worker when no Redis URL is set
    redis = Redis.from_url(str(settings.redis_url))
    try:
        return bool(await redis.get(health_check_key()))
    finally:
        await redis.aclose()


def serve_metrics(metrics: Metrics, port: int | None) -> WSGIServer | None:
    """The worker's own Prometheus endpoint (a daemon thread), when ``SWITCHBOARD_WORKER__METRICS_PORT``."""
    if port is None:
        return None
    server, _ = start_http_server(port, registry=metrics.registry)
    log.info("worker metrics listening", port=port)
    return server


def build_worker(settings: Settings, *, burst: bool = False, metrics: Metrics | None = None) -> Worker:
    stack: dict[str, Any] = {}
    metrics = metrics or Metrics()

    async def startup(ctx: dict[str, Any]) -> None:
        manager = open_services(settings, metrics=metrics)
        ctx["services"] = await manager.__aenter__()
        ctx["metrics"] = metrics
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
        health_check_interval=settings.worker.health_check_interval_s,
        health_check_key=health_check_key(),
    )


def run_worker(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM, then finish in-flight jobs' bookkeeping and close connections."""
    asyncio.set_event_loop(asyncio.new_event_loop())
    metrics = Metrics()
    serve_metrics(metrics, settings.worker.metrics_port)
    build_worker(settings, metrics=metrics).run()
