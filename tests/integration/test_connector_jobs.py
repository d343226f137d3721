"""Connector syncs as real arq jobs on real Redis and a real Chroma server: an AuthError pauses the source
with a readable reason (and an explicit sync resumes it), a Graph 429 is retried after its Retry-After,
and a worker SIGKILLed mid-sync resumes from the saved cursor with no duplicate chunks."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core import workspaces
from core.embeddings import MiniLMEmbedder
from core.tables import Chunk, Document, Job, Source, Workspace
from hub import sources
from hub.container import Services, open_services
from hub.migrate import upgrade
from hub.settings import ConnectorSettings, JobSettings, Settings
from hub.worker import build_worker
from tests.fakes.confluence import fake_confluence
from tests.fakes.graph import fake_graph
from tests.support.tls import self_signed
from tests.support.workers import flush, worker_process

SECRET = {"username": "bot@example.com", "password": "api-token"}


@pytest.fixture
def job_settings(tmp_path: Path, redis_url: str, chroma_server: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        redis_url=redis_url,
        chroma_url=chroma_server,
        jobs=JobSettings(retry_base_s=0.3, max_tries=3, lease_s=2.0),
        connectors=ConnectorSettings(allow_private_urls=True, ca_bundle=self_signed(tmp_path / "tls").cert),
    )


@pytest.fixture
async def services(job_settings: Settings, embedder: MiniLMEmbedder) -> AsyncIterator[Services]:
    await flush(str(job_settings.redis_url))
    async with open_services(job_settings, embedder=embedder) as opened:
        await upgrade(opened.engine)
        yield opened


async def burst(services: Services, embedder: MiniLMEmbedder) -> None:
    worker = build_worker(services.settings, burst=True, embedder=embedder)
    try:
        await worker.main()
    finally:
        await worker.close()


async def workspace(services: Services, name: str) -> Workspace:
    async with services.sessions.begin() as session:
        return await workspaces.create(session, name)


async def rows(services: Services, job_id: int, source_id: int) -> tuple[Job, Source]:
    async with services.sessions() as session:
        job, source = await session.get(Job, job_id), await session.get(Source, source_id)
    assert job is not None and source is not None
    return job, source


async def test_auth_error_pauses_the_source_and_a_sync_resumes_it(
    services: Services, embedder: MiniLMEmbedder
) -> None:
    async with fake_confluence() as wiki:
        wiki.add("1", "Hello", "<p>Hello world from the wiki.</p>", minute=0)
        wiki.refuse_auth = True
        target = await workspace(services, "paused")
        config = {"url": wiki.base_url, "space": wiki.space}
        source = await sources.add(
            services, target, source_type="confluence", name="w", config=config, secret=SECRET
        )
        queued = await sources.enqueue_sync(services, source.id, "test")
        await burst(services, embedder)
        job, paused = await rows(services, queued.id, source.id)
        assert job.status == "failed" and job.attempts == 1  # permanent: not retried
        assert paused.status == "paused"
        assert paused.last_error and "HTTP 401" in paused.last_error and "credentials" in paused.last_error
        wiki.refuse_auth = False
        again = await sources.enqueue_sync(services, source.id, "credentials fixed")
        await burst(services, embedder)
        job, resumed = await rows(services, again.id, source.id)
        assert job.status == "done" and job.counts == {"created": 1}
        assert resumed.status == "idle" and resumed.last_error is None


async def test_graph_429_is_retried_after_its_retry_after(
    services: Services, embedder: MiniLMEmbedder, job_settings: Settings, tmp_path: Path
) -> None:
    assert job_settings.connectors.ca_bundle is not None
    tls = self_signed(tmp_path / "graph-tls")
    settings = job_settings.model_copy(
        update={"connectors": ConnectorSettings(allow_private_urls=True, ca_bundle=tls.cert)}
    )
    async with fake_graph(tls) as drive, open_services(settings, embedder=embedder) as opened:
        drive.put("i1", "notes.txt", b"Meeting notes: the launch moved to Friday.")
        drive.throttle, drive.retry_after = 1, "2"
        target = await workspace(opened, "throttled")
        config = {
            "tenant_id": drive.tenant,
            "client_id": "app",
            "drive_id": drive.drive,
            "graph_url": drive.graph_url,
            "authority_host": drive.base_url,
            "permissions": False,
        }
        source = await sources.add(
            opened,
            target,
            source_type="sharepoint",
            name="d",
            config=config,
            secret={"client_secret": "s3cret"},
        )
        queued = await sources.enqueue_sync(opened, source.id, "test")
        await burst(opened, embedder)
        job, synced = await rows(opened, queued.id, source.id)
    assert job.status == "done" and job.attempts == 2 and job.counts == {"created": 1}
    assert drive.times[1] - drive.times[0] >= 2.0, "the retry waited for Retry-After, not the 0.3 s backoff"
    assert synced.status == "idle"


@pytest.mark.slow
async def test_a_worker_killed_mid_sync_resumes_from_the_cursor_without_duplicates(
    services: Services, job_settings: Settings, tmp_path: Path
) -> None:
    async with fake_confluence() as wiki:
        for i in range(24):
            wiki.add(
                f"{i:03d}",
                f"Page {i}",
                f"<h2>Topic {i}</h2><p>Subsystem {i * 7} owns queue {i}.</p>",
                minute=i,
            )
        wiki.delay_s = 0.4
        target = await workspace(services, "resume")
        config = {"url": wiki.base_url, "space": wiki.space, "page_size": 3}
        source = await sources.add(
            services, target, source_type="confluence", name="w", config=config, secret=SECRET
        )
        queued = await sources.enqueue_sync(services, source.id, "test")
        extra = {"SWITCHBOARD_CONNECTORS__ALLOW_PRIVATE_URLS": "true"}
        with worker_process(job_settings, tmp_path / "a.log", **extra) as first:
            await until(services, source.id, lambda s: s.cursor is not None and '"start":6' in s.cursor)
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        _, killed = await rows(services, queued.id, source.id)
        assert killed.cursor and '"start":24' not in killed.cursor  # killed midway
        with worker_process(job_settings, tmp_path / "b.log", **extra):
            job = await until_done(services, queued.id)
    assert job.status == "done" and job.attempts == 2
    full_starts = [s["start"] for s in wiki.searches if "body.storage" in s.get("expand", "")]
    assert full_starts.count("0") == 1, (
        f"the second worker resumed from the cursor, not from 0: {full_starts}"
    )
    async with services.sessions() as session:
        docs = await session.scalar(select(func.count(Document.id)).where(Document.workspace_id == target.id))
        chunks = (
            await session.execute(select(Chunk.document_id, Chunk.ord).where(Chunk.workspace_id == target.id))
        ).all()
    assert docs == 24 and len(set(chunks)) == len(chunks), "no duplicate chunks"
    assert await services.vectors.chunk_ids(target.uid) == set(await services_chunk_ids(services, target)), (
        "vectors in step with chunk rows"
    )


async def services_chunk_ids(services: Services, target: Workspace) -> list[int]:
    async with services.sessions() as session:
        return list((await session.scalars(select(Chunk.id).where(Chunk.workspace_id == target.id))).all())


async def until(services: Services, source_id: int, test: object, timeout_s: float = 120.0) -> Source:
    assert callable(test)
    for _ in range(int(timeout_s * 10)):
        async with services.sessions() as session:
            source = await session.get(Source, source_id)
        if source is not None and test(source):
            return source
        await asyncio.sleep(0.1)
    raise AssertionError("the source never reached the expected state")


async def until_done(services: Services, job_id: int, timeout_s: float = 180.0) -> Job:
    for _ in range(int(timeout_s * 10)):
        async with services.sessions() as session:
            job = await session.get(Job, job_id)
        if job is not None and job.status in ("done", "failed"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")
