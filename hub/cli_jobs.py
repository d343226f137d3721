"""``ingest --via-worker``: local files take the upload job path; progress comes from the job events."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from core import workspaces
from core.errors import ConfigError
from hub import evaluate
from hub.cli_support import err
from hub.container import Services, open_services
from hub.files import walk
from hub.migrate import ensure_schema
from hub.progress import snapshots
from hub.queue import submit
from hub.settings import Settings
from hub.uploads import spool_files


async def ingest_via_worker(
    settings: Settings, paths: list[Path], workspace: str, collection: str | None
) -> dict[str, Any]:
    """Queue the files as one upload job, follow it to the end, and return its final snapshot."""
    files = [(external_id, path) for path, external_id in walk(paths)]
    async with open_services(settings) as services:
        if services.redis is None:
            raise ConfigError(
                "--via-worker needs the job queue: run `switchboard serve` on this data dir, "
                "or set SWITCHBOARD_REDIS_URL (and run `switchboard worker`)"
            )
        await ensure_schema(services.engine)
        async with services.sessions.begin() as session:
            target = await workspaces.get_or_create(session, workspace)
        received = await asyncio.to_thread(spool_files, services.settings, files)
        params = received.params(collection or "default")
        job = await submit(services, target.id, "upload", params, total=len(files))
        err().print(f"queued job {job.id} ({len(files)} files)")
        return await follow_with_bar(services, target.id, job.id)


async def follow_with_bar(services: Services, workspace_id: int, job_id: int) -> dict[str, Any]:
    last: dict[str, Any] = {}
    with evaluate.progress(err()) as bar:
        task = bar.add_task(f"job {job_id}", total=None)
        async for snapshot in snapshots(services, workspace_id, job_id):
            if snapshot is not None:
                last = snapshot
                bar.update(task, total=snapshot["total"] or None, completed=snapshot["progress"])
                bar.update(task, description=f"job {job_id}: {snapshot['status']}")
    return last
