"""Job seams on a real arq worker and real Redis: source syncs (with and without a connector), retries
with backoff, the refresh cron, webhook deliveries, and the parse sandbox's timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from core import workspaces
from core.embeddings import MiniLMEmbedder
from core.errors import ParseError, TransientError
from core.indexing import ensure_collection
from core.ingest.parse import ParsedDocument
from core.jobs import ItemResult, Report
from core.tables import Job, Source, Workspace, utcnow
from hub.container import Services, open_services
from hub.migrate import upgrade
from hub.queue import submit
from hub.sandbox import ParseSandbox
from hub.settings import JobSettings, Settings
from hub.source_jobs import claim_due
from hub.worker import backoff_s, build_worker
from tests.support.workers import flush


@pytest.fixture
async def services(
    tmp_path: Path, redis_url: str, chroma_server: str, embedder: MiniLMEmbedder
) -> AsyncIterator[Services]:
    await flush(redis_url)
    settings = Settings(
        data_dir=tmp_path / "var",
        redis_url=redis_url,
        chroma_url=chroma_server,
        jobs=JobSettings(retry_base_s=0.6, max_tries=3),
    )
    async with open_services(settings, embedder=embedder) as opened:
        await upgrade(opened.engine)
        yield opened


async def add_source(services: Services, kind: str, interval: int | None = None) -> tuple[Workspace, Source]:
    async with services.sessions.begin() as session:
        workspace = await workspaces.create(session, "seams")
        collection_id = await ensure_collection(session, workspace.id, "default")
        source = Source(
            workspace_id=workspace.id,
            collection_id=collection_id,
            type=kind,
            name=f"my {kind}",
            refresh_interval_s=interval,
        )
        session.add(source)
    return workspace, source


async def run_burst(services: Services, embedder: MiniLMEmbedder) -> None:
    """A real arq worker in burst mode, sharing the test's ports (what hub wiring registers)."""
    worker = build_worker(services.settings, burst=True, embedder=embedder)
    original = worker.on_startup
    assert original is not None

    async def startup(ctx: dict[str, object]) -> None:
        await original(ctx)
        ctx["services"].ports = services.ports  # type: ignore[attr-defined]

    worker.on_startup = startup
    try:
        await worker.main()
    finally:
        await worker.close()


async def job(services: Services, job_id: int) -> Job:
    async with services.sessions() as session:
        found = await session.get(Job, job_id)
    assert found is not None
    return found


async def test_sync_without_a_connector_finishes_cleanly_as_skipped(
    services: Services, embedder: MiniLMEmbedder
) -> None:
    workspace, source = await add_source(services, "gdrive")
    queued = await submit(services, workspace.id, "sync", {"source_id": source.id})
    await run_burst(services, embedder)
    done = await job(services, queued.id)
    assert done.status == "done" and done.counts == {"skipped": 1}
    assert "no connector is registered for source type 'gdrive'" in done.errors[0]["error"]
    async with services.sessions() as session:
        refreshed = await session.get(Source, source.id)
    assert refreshed is not None and refreshed.status == "idle" and refreshed.last_synced_at is not None


async def test_a_transient_error_is_retried_with_backoff_then_succeeds(
    services: Services, embedder: MiniLMEmbedder
) -> None:
    workspace, source = await add_source(services, "web")
    calls: list[float] = []

    async def flaky(source: Source, report: Report) -> None:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise TransientError("site is rate limiting")
        await report([ItemResult("https://example.test/a", "created")])

    services.ports.syncers["web"] = flaky
    queued = await submit(services, workspace.id, "sync", {"source_id": source.id})
    await run_burst(services, embedder)
    done = await job(services, queued.id)
    assert done.status == "done" and done.attempts == 3 and done.counts == {"created": 1}
    assert calls[1] - calls[0] >= 0.6 and calls[2] - calls[1] >= 1.2, "backoff doubles"
    assert backoff_s(services.settings, 1, None) == 0.6 and backoff_s(services.settings, 3, None) == 2.4
    assert backoff_s(services.settings, 1, 30.0) == 30.0, "a Retry-After wins"


async def test_a_transient_error_gives_up_after_max_tries(
    services: Services, embedder: MiniLMEmbedder
) -> None:
    workspace, source = await add_source(services, "web")

    async def down(source: Source, report: Report) -> None:
        raise TransientError("connection refused")

    services.ports.syncers["web"] = down
    queued = await submit(services, workspace.id, "sync", {"source_id": source.id})
    await run_burst(services, embedder)
    failed = await job(services, queued.id)
    assert failed.status == "failed" and failed.attempts == 3
    assert "gave up after 3 tries: connection refused" in failed.errors[-1]["error"]


async def test_refresh_claims_each_due_source_once(services: Services) -> None:
    _, source = await add_source(services, "web", interval=60)
    first, second = await asyncio.gather(claim_due(services), claim_due(services))
    assert len(first) + len(second) == 1, "two crons racing queue one sync"
    assert await claim_due(services) == [], "a queued source is not queued again"
    async with services.sessions.begin() as session:
        row = await session.get(Source, source.id)
        assert row is not None
        row.status, row.last_synced_at = "idle", utcnow() - timedelta(seconds=30)
    assert await claim_due(services) == [], "not due before its interval"
    async with services.sessions.begin() as session:
        row = await session.get(Source, source.id)
        assert row is not None
        row.last_synced_at = utcnow() - timedelta(seconds=61)
    assert len(await claim_due(services)) == 1


async def test_webhook_job_uses_the_registered_deliverer(
    services: Services, embedder: MiniLMEmbedder
) -> None:
    async with services.sessions.begin() as session:
        workspace = await workspaces.create(session, "hooks")
    unregistered = await submit(services, workspace.id, "webhook", {"url": "http://127.0.0.1:9/x"})
    await run_burst(services, embedder)
    assert (await job(services, unregistered.id)).counts == {"skipped": 1}
    seen: list[dict[str, object]] = []

    async def deliver(workspace_id: int, params: dict[str, object]) -> ItemResult:
        seen.append(params)
        return ItemResult(str(params["url"]), "delivered")

    services.ports.deliver_webhook = deliver
    registered = await submit(services, workspace.id, "webhook", {"url": "http://127.0.0.1:9/y"})
    await run_burst(services, embedder)
    assert (await job(services, registered.id)).counts == {"delivered": 1}
    assert seen == [{"url": "http://127.0.0.1:9/y"}]


def hang(data: bytes, doc_type: str, max_pdf_pages: int) -> ParsedDocument:
    time.sleep(3600)
    raise AssertionError("unreachable")


def test_the_sandbox_kills_a_parse_that_runs_past_its_timeout() -> None:
    sandbox = ParseSandbox(timeout_s=1.0, memory_mb=1024, workers=1, target=hang)
    try:
        started = time.monotonic()
        with pytest.raises(ParseError, match="longer than 1 s"):
            sandbox(b"x", "txt", max_pdf_pages=1)
        assert time.monotonic() - started < 30
    finally:
        sandbox.close()
    real = ParseSandbox(timeout_s=20.0, memory_mb=1024, workers=1)
    try:
        assert "hello" in real(b"hello world", "txt", max_pdf_pages=1).text
        with pytest.raises(ParseError, match="UTF-8"):
            real(b"\xff\xfe bad", "txt", max_pdf_pages=1)
    finally:
        real.close()


async def test_a_job_that_cannot_be_queued_is_recorded_as_failed(
    tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    from hub.runtime import free_port

    down = Settings(data_dir=tmp_path / "down", redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with open_services(down, embedder=embedder) as opened:
        await upgrade(opened.engine)
        async with opened.sessions.begin() as session:
            workspace = await workspaces.create(session, "down")
        with pytest.raises(TransientError, match="job queue is unavailable"):
            await submit(opened, workspace.id, "webhook", {"url": "http://127.0.0.1:9/"})
        async with opened.sessions() as session:
            rows = (await session.scalars(select(Job))).all()
    assert [(j.status, "unavailable" in j.errors[0]["error"]) for j in rows] == [("failed", True)]


async def test_the_refresh_cron_queues_and_runs_a_sync_for_a_due_source(
    services: Services, embedder: MiniLMEmbedder
) -> None:
    _, source = await add_source(services, "gdrive", interval=60)  # a type without a connector
    await run_burst(services, embedder)  # the cron runs at worker start-up, then its sync job runs
    async with services.sessions() as session:
        rows = (await session.scalars(select(Job))).all()
        refreshed = await session.get(Source, source.id)
    assert [(j.kind, j.status, j.params) for j in rows] == [("sync", "done", {"source_id": source.id})]
    assert refreshed is not None and refreshed.status == "idle" and refreshed.last_synced_at is not None
