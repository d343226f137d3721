"""`switchboard ingest --via-worker`: the real CLI process queues an upload job that a real worker runs."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from sqlalchemy import select

from core.embeddings import MiniLMEmbedder
from core.tables import Document
from hub.container import open_services
from hub.migrate import upgrade
from hub.settings import Settings
from tests.support.workers import flush, running_worker, worker_env


async def test_ingest_via_worker_takes_the_job_path_and_reports_failures(
    tmp_path: Path, redis_url: str, chroma_server: str, embedder: MiniLMEmbedder
) -> None:
    await flush(redis_url)
    settings = Settings(data_dir=tmp_path / "var", redis_url=redis_url, chroma_url=chroma_server)
    docs = tmp_path / "docs"
    (docs / "runbooks").mkdir(parents=True)
    (docs / "runbooks" / "disk.md").write_text("# Disk full\n\nRotate the logs, then grow the volume.\n")
    (docs / "oncall.md").write_text("# On-call\n\nPage the incident commander for a SEV1.\n")
    (docs / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    async with open_services(settings, embedder=embedder) as services:
        await upgrade(services.engine)
    async with running_worker(settings, embedder):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hub.cli",
            "ingest",
            str(docs),
            "--workspace",
            "ops",
            "--via-worker",
            env=worker_env(settings),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, errors = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode == 1, errors.decode()  # one file failed, and the exit code says so
    assert "job 1 done: 2 created, 1 failed" in out.decode()
    assert "photo.txt" in errors.decode() and "binary" in errors.decode()
    async with open_services(settings, embedder=embedder) as services, services.sessions() as session:
        ids = set((await session.scalars(select(Document.external_id))).all())
    assert ids == {"runbooks/disk.md", "oncall.md"}
    assert not any((settings.spool_path).iterdir())
