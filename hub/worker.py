"""arq worker: background jobs with their resources in ``ctx``.

``switchboard worker`` runs one; ``serve`` in embedded mode runs one as a child process. Several workers
share one queue: arq claims each job for one worker at a time, and ``hub.queue.lease`` lets the claim of
a crashed worker lapse quickly so the job runs again elsewhere. Every job is recorded (``core.jobs``) and
idempotent, so running one twice is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIServer

import structlog
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.cron import cron
from arq.worker import Retry, Worker, func
from prometheus_client import start_http_server
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core import workspaces
from core.embeddings import Embedder
from core.errors import PermanentError, TransientError
from core.indexing import ingest_all
from core.jobs import TERMINAL, JobRecorder
from core.tables import Job
from hub import outbound, push
from hub.chat_jobs import answer_slack, answer_teams, open_chat_answers
from hub.container import Services, open_services
from hub.correlation import observed
from hub.errors import is_outage
from hub.files import read_documents
from hub.metrics import Metrics
from hub.progress import RedisJobEvents
from hub.protection import enforce_retention
from hub.push import renew_graph_subscriptions
from hub.queue import QUEUE, lease
from hub.settings import Settings
from hub.source_jobs import refresh_sources, run_sync, run_webhook
from hub.upload_job import discard_spool, run_upload
from hub.warmup import keywords_warming

log = structlog.get_logger(__name__)

Body = Callable[[Services, JobRecorder, Job], Awaitable[None]]


def backoff_s(settings: Settings, job_try: int, retry_after_s: float | None) -> float:
    """Exponential backoff: base * 2^(try-1), capped; a server's Retry-After wins when longer."""
    jobs = settings.jobs
    delay = min(jobs.retry_base_s * 2 ** max(job_try - 1, 0), jobs.retry_max_s)
    return float(max(delay, retry_after_s or 0.0))


async def run_recorded(ctx: dict[str, Any], job_id: int, body: Body) -> str:
    """``attempt``, and when the database or Redis went away under it (a restart), a retry with backoff
    instead of a job left "running" forever (found by the PostgreSQL restart drill in bench/load.py)."""
    try:
        return await attempt(ctx, job_id, body)
    except Exception as exc:
        if not is_outage(exc):
            raise
        job_try = int(ctx.get("job_try", 1))
        log.warning("job interrupted by an outage; will retry", job=job_id, job_try=job_try, error=str(exc))
        raise Retry(defer=backoff_s(ctx["services"].settings, job_try, 2.0)) from exc


async def attempt(ctx: dict[str, Any], job_id: int, body: Body) -> str:
    """Run one attempt of a recorded job: skip it when already finished, retry transient errors with
    backoff until the tries run out, and record every outcome. Returns the job's final status."""
    services: Services = ctx["services"]
    recorder = JobRecorder(services.sessions, RedisJobEvents(services.redis), job_id)
    job = await recorder.load()
    if job.status in TERMINAL:
        return job.status  # a redelivery of a finished job: nothing to do
    settings = services.settings
    async with lease(ctx["redis"], ctx["job_id"], settings.jobs.lease_s):
        try:
            await body(services, recorder, job)
        except TransientError as exc:
            job_try = int(ctx.get("job_try", 1))
            if job_try >= settings.jobs.max_tries:
                await recorder.finish("failed", f"gave up after {job_try} tries: {exc}")
                return "failed"
            log.warning("job will be retried", job=job_id, job_try=job_try, error=str(exc))
            raise Retry(defer=backoff_s(settings, job_try, exc.retry_after_s)) from exc
        except PermanentError as exc:
            await recorder.finish("failed", str(exc))
            return "failed"
        except Exception as exc:
            if is_outage(exc):
                raise
            log.exception("job crashed", job=job_id)
            await recorder.finish("failed", "internal error (see the worker log)")
            return "failed"
    return (await recorder.load()).status


@observed
async def ingest_upload(ctx: dict[str, Any], job_id: int) -> str:
    """Index the files of one upload (API or ``ingest --via-worker``); the spool is removed when done."""
    outcome = await run_recorded(ctx, job_id, run_upload)
    async with ctx["services"].sessions() as session:
        job = await session.get(Job, job_id)
    if job is not None:
        discard_spool(job)
    return outcome


@observed
async def sync_source(ctx: dict[str, Any], job_id: int) -> str:
    """Sync one source through the connector registered for its type (none registered: a clean no-op)."""
    return await run_recorded(ctx, job_id, run_sync)


@observed
async def deliver_webhook(ctx: dict[str, Any], job_id: int) -> str:
    """Deliver one outbound webhook through the registered deliverer (none registered: a clean no-op)."""
    return await run_recorded(ctx, job_id, run_webhook)


@observed
async def ingest_paths(
    ctx: dict[str, Any],
    workspace: str,
    paths: list[str],
    collection: str | None = None,
    folders_as_collections: bool = False,
) -> dict[str, int]:
    """Ingest files from the worker's file system (the demo corpus). Idempotent by content hash."""
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


class OutageTolerantWorker(Worker):
    """arq's worker ends its run on the first Redis error in its polling loop, so a Redis restart would
    end every worker process (found by the fault drill in bench/load.py). This one logs, waits a second
    and polls again, keeping its running jobs and its open resources; redis-py reconnects by itself."""

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except (RedisError, OSError) as exc:
            log.warning("redis unavailable; polling again shortly", error=str(exc))
            await asyncio.sleep(1.0)


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


def build_worker(
    settings: Settings,
    *,
    burst: bool = False,
    signals: bool = True,
    embedder: Embedder | None = None,
    metrics: Metrics | None = None,
) -> Worker:
    """The arq worker; ``signals=False`` and ``embedder`` are for running one inside a test's loop."""
    metrics = metrics or Metrics()

    async def startup(ctx: dict[str, Any]) -> None:
        stack = ctx["resources"] = contextlib.AsyncExitStack()
        opened = open_services(settings, sandboxed=True, embedder=embedder, metrics=metrics)
        ctx["services"] = services = await stack.enter_async_context(opened)
        await stack.enter_async_context(push.wired(services))
        outbound.wire(services)
        ctx["chat"] = await stack.enter_async_context(open_chat_answers(settings, services))
        await stack.enter_async_context(keywords_warming(services))  # chat answers search here
        ctx["metrics"] = metrics

    async def shutdown(ctx: dict[str, Any]) -> None:
        stack = ctx.pop("resources", None)
        if stack is not None:
            await stack.aclose()

    return OutageTolerantWorker(
        functions=[
            ingest_upload,
            sync_source,
            deliver_webhook,
            ingest_paths,
            # a chat turn's arguments hold the asker's ids and words: keep no result record of it in Redis
            func(answer_slack, keep_result=0),
            func(answer_teams, keep_result=0),
        ],
        cron_jobs=[
            cron(refresh_sources, second=0, unique=True, run_at_startup=True),
            cron(
                renew_graph_subscriptions, minute={0, 15, 30, 45}, second=30, unique=True, run_at_startup=True
            ),
            cron(enforce_retention, minute=17, second=30, unique=True),
        ],
        redis_settings=redis_settings(settings),
        queue_name=QUEUE,
        on_startup=startup,
        on_shutdown=shutdown,
        burst=burst,
        max_jobs=settings.jobs.max_concurrent,
        job_timeout=settings.jobs.timeout_s,
        max_tries=settings.jobs.max_tries,
        handle_signals=signals and not burst,
        health_check_interval=settings.worker.health_check_interval_s,
        health_check_key=health_check_key(),
    )


def run_worker(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM, then finish in-flight jobs' bookkeeping and close connections."""
    if settings.worker.nice:
        os.nice(settings.worker.nice)
    asyncio.set_event_loop(asyncio.new_event_loop())
    metrics = Metrics()
    serve_metrics(metrics, settings.worker.metrics_port)
    build_worker(settings, metrics=metrics).run()
