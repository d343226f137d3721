"""Real arq workers for tests: one inside the test's loop, or real `switchboard worker` processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
from arq.worker import Worker
from redis.asyncio import Redis

from core.embeddings import Embedder
from hub.settings import Settings
from hub.worker import build_worker

ROOT = Path(__file__).resolve().parents[2]


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, embedder: Embedder) -> AsyncIterator[Worker]:
    """A real arq Worker on the real queue, in this event loop (no signal handlers)."""
    worker = build_worker(settings, signals=False, embedder=embedder)
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        await settle(worker)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.close()


async def settle(worker: Worker, within_s: float = 15.0) -> None:
    """Let the jobs in flight finish (their bookkeeping included) before the worker is cancelled: a job
    cancelled while arq records its result leaves a Redis connection behind."""
    deadline = asyncio.get_running_loop().time() + within_s
    while any(not t.done() for t in worker.tasks.values()):
        if asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(0.05)


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env.update(
        SWITCHBOARD_DATA_DIR=str(settings.data_dir),
        SWITCHBOARD_DATABASE_URL=settings.resolved_database_url(),
        SWITCHBOARD_REDIS_URL=settings.redis_url or "",
        SWITCHBOARD_CHROMA_URL=settings.chroma_url or "",
        SWITCHBOARD_LOG_LEVEL="INFO",
        SWITCHBOARD_JOBS__LEASE_S=str(settings.jobs.lease_s),
        **extra,
    )
    return env


@contextlib.contextmanager
def worker_process(settings: Settings, log: Path, **extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real `switchboard worker` process; stopped (or already killed) at the end."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "worker"],
            env=worker_env(settings, **extra),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def flush(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


async def wait_job(http: httpx.AsyncClient, url: str, key: str, timeout_s: float = 120.0) -> dict[str, Any]:
    """Poll GET .../jobs/{id} until the job is done or failed."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        response = await http.get(url, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["status"] in ("done", "failed"):
            return job
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"job did not finish in {timeout_s}s: {job}")
        await asyncio.sleep(0.2)
