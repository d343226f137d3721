"""A real arq worker (burst mode) on a real Redis: the request id that enqueued a job is on the job's log
lines, job durations and outcomes land in the worker's metrics, and ``worker --check`` sees its beat."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import uuid
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import structlog
from arq.connections import ArqRedis

from core.db import make_engine
from hub.correlation import enqueue_job
from hub.metrics import Metrics
from hub.migrate import upgrade
from hub.queue import QUEUE as QUEUE_KEY
from hub.runtime import free_port
from hub.settings import Settings
from hub.worker import build_worker, check_health, enqueue_pool, health_check_key, serve_metrics
from tests.support.logs import captured_logs


@pytest.fixture
async def queue(settings: Settings, redis_url: str) -> AsyncIterator[tuple[Settings, ArqRedis]]:
    configured = settings.model_copy(update={"redis_url": redis_url})
    configured.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(configured.resolved_database_url())
    await upgrade(engine)  # what `serve` / `switchboard db upgrade` does before workers run
    await engine.dispose()
    pool = await enqueue_pool(configured)
    await pool.delete(QUEUE_KEY, health_check_key())
    yield configured, pool
    await pool.delete(QUEUE_KEY, health_check_key())
    await pool.aclose()


def value(metrics: Metrics, name: str, labels: dict[str, str]) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


@contextlib.asynccontextmanager
async def burst(settings: Settings, metrics: Metrics) -> AsyncIterator[None]:
    """Run a burst worker until the queue is empty; close it (deletes its health beat) on exit."""
    worker = build_worker(settings, burst=True, metrics=metrics)
    try:
        await worker.main()
        yield
    finally:
        with warnings.catch_warnings():  # arq closes its pool with redis-py's deprecated close()
            warnings.filterwarnings("ignore", "Call to deprecated close", DeprecationWarning)
            await worker.close()


async def test_request_id_and_metrics_follow_the_job(
    queue: tuple[Settings, ArqRedis], tmp_path: Path
) -> None:
    settings, pool = queue
    doc = tmp_path / "vpn.md"
    doc.write_text("# VPN\n\nRequest VPN access in the IT portal.")
    metrics = Metrics()
    with captured_logs() as logs:
        with structlog.contextvars.bound_contextvars(request_id="req-from-http"):
            await enqueue_job(pool, "ingest_paths", "alpha", [str(doc)], _job_id=f"ok-{uuid.uuid4().hex}")
        await enqueue_job(pool, "ingest_paths", "Not A Slug!", [str(doc)], _job_id=f"bad-{uuid.uuid4().hex}")
        async with burst(settings, metrics):
            pass
    done = logs.events("ingest_paths done")
    assert len(done) == 1 and done[0]["request_id"] == "req-from-http" and done[0]["job"] == "ingest_paths"
    finished = {r["status"]: r for r in logs.events("job finished")}
    assert finished["ok"]["request_id"] == "req-from-http" and finished["ok"]["job_id"].startswith("ok-")
    assert "request_id" not in finished["failed"]  # enqueued outside any request
    assert finished["failed"]["level"] == "warning" and finished["ok"]["level"] == "info"
    assert value(metrics, "switchboard_jobs_total", {"function": "ingest_paths", "status": "ok"}) == 1
    assert value(metrics, "switchboard_jobs_total", {"function": "ingest_paths", "status": "failed"}) == 1
    assert value(metrics, "switchboard_job_seconds_count", {"function": "ingest_paths"}) == 2


async def test_worker_check_sees_this_hosts_health_beat(queue: tuple[Settings, ArqRedis]) -> None:
    settings, pool = queue
    assert await check_health(settings) is False  # no worker has run on this host yet
    assert await check_cli(settings) == 1
    async with burst(settings, Metrics()):
        assert await check_health(settings) is True
        assert await check_cli(settings) == 0
        ttl = await pool.ttl(health_check_key())
        assert 0 < ttl <= settings.worker.health_check_interval_s + 1
    assert await check_health(settings) is False  # a worker that stopped cleanly removes its beat


async def check_cli(settings: Settings) -> int:
    """``switchboard worker --check`` in its own process, as a container healthcheck runs it."""
    env = {
        **os.environ,
        "SWITCHBOARD_REDIS_URL": str(settings.redis_url),
        "SWITCHBOARD_DATA_DIR": str(settings.data_dir),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub.cli", "worker", "--check", env=env, stdout=asyncio.subprocess.DEVNULL
    )
    return await process.wait()


async def test_worker_metrics_endpoint_serves_the_job_metrics() -> None:
    metrics = Metrics()
    metrics.record_job("sync_source", "ok", 0.5)
    port = free_port()
    server = serve_metrics(metrics, port)
    assert server is not None
    try:
        async with httpx.AsyncClient() as http:
            body = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    finally:
        server.shutdown()
        server.server_close()
    assert 'switchboard_jobs_total{function="sync_source",status="ok"} 1.0' in body
    assert serve_metrics(Metrics(), None) is None
