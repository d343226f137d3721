"""Sources (status, last error, live sync progress), uploads (drag-and-drop, progress per file), jobs."""

from __future__ import annotations

import shutil
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy import select

from core import audit, jobs
from core.errors import InvalidInput
from core.models import check_slug
from core.tables import Source, Workspace
from hub import uploads
from hub.admin import auth
from hub.admin.auth import CheckedDep, SignedDep
from hub.admin.render import back, page
from hub.admin.workspace_pages import visible_workspaces
from hub.deps import ServicesDep
from hub.progress import follow
from hub.queue import submit

router = APIRouter(prefix="/admin", include_in_schema=False)
JobId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/sources", response_class=HTMLResponse)
async def source_list(request: Request, services: ServicesDep, signed: SignedDep) -> HTMLResponse:
    rows: list[dict[str, Any]] = []
    for workspace, _ in await visible_workspaces(services, signed):
        async with services.sessions() as session:
            found = (await session.scalars(select(Source).where(Source.workspace_id == workspace.id))).all()
            recent = await jobs.recent(session, workspace.id, limit=100)
        running = {
            int(j.params.get("source_id", 0)): j
            for j in recent
            if j.kind == "sync" and j.status in ("queued", "running")
        }
        rows += [
            {
                "workspace": workspace,
                "source": s,
                "job": running.get(s.id),
                "can_sync": signed.viewer.can(workspace.id, "editor"),
            }
            for s in found
        ]
    return page(request, signed, "sources.html", rows=rows, notice=request.query_params.get("ok", ""))


@router.post("/sources/{source_id}/sync")
async def source_sync(source_id: JobId, services: ServicesDep, signed: CheckedDep) -> Response:
    async with services.sessions() as session:
        source = await session.get(Source, source_id)
        workspace = await session.get(Workspace, source.workspace_id) if source else None
    if source is None or workspace is None:
        return back("/admin/sources", ok="no such source")
    await auth.workspace_for(services, signed, workspace.name, "editor")
    job = await submit(services, workspace.id, "sync", {"source_id": source.id})
    await auth.record(
        services,
        audit.Entry(
            actor=signed.actor(),
            action="source.sync",
            workspace=workspace.name,
            target=source.name,
            detail={"job_id": job.id},
        ),
    )
    return back("/admin/sources", ok=f"sync of {source.name} queued (job {job.id})")


@router.get("/uploads", response_class=HTMLResponse)
async def upload_page(request: Request, services: ServicesDep, signed: SignedDep) -> HTMLResponse:
    targets = [
        ws for ws, _ in await visible_workspaces(services, signed) if signed.viewer.can(ws.id, "editor")
    ]
    return page(request, signed, "uploads.html", targets=targets)


@router.post("/w/{name}/uploads", status_code=202)
async def upload(name: str, request: Request, services: ServicesDep, signed: CheckedDep) -> dict[str, Any]:
    """The REST upload path (streamed spool, one job), for a signed-in editor; the page sends one file per
    request so each file has its own job and its own progress bar."""
    workspace = await auth.workspace_for(services, signed, name, "editor")
    settings = services.settings
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > settings.ingest.max_request_mb * uploads.MB:
        raise uploads.too_large(settings)
    received = await uploads.receive(settings, request.headers.get("content-type"), request.stream())
    try:
        if not received.files:
            raise InvalidInput("the request has no files")
        collection = check_slug(received.fields.get("collection") or "default", "collection")
        job = await submit(
            services, workspace.id, "upload", received.params(collection), total=len(received.files)
        )
    except BaseException:
        shutil.rmtree(received.folder, ignore_errors=True)
        raise
    names = [f.name for f in received.files]
    await auth.record(
        services,
        audit.Entry(
            actor=signed.actor(),
            action="upload",
            workspace=name,
            target=", ".join(names)[:1000],
            detail={"job_id": job.id},
        ),
    )
    return {"job_id": job.id, "files": names, "events": f"/admin/w/{name}/jobs/{job.id}/events"}


@router.get("/w/{name}/jobs/{job_id}/events")
async def job_events(name: str, job_id: JobId, services: ServicesDep, signed: SignedDep) -> StreamingResponse:
    workspace = await auth.workspace_for(services, signed, name, "viewer")
    async with services.sessions() as session:
        await jobs.get(session, workspace.id, job_id)
    return StreamingResponse(
        follow(services, workspace.id, job_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/jobs", response_class=HTMLResponse)
async def job_list(request: Request, services: ServicesDep, signed: SignedDep) -> HTMLResponse:
    rows = []
    for workspace, _ in await visible_workspaces(services, signed):
        async with services.sessions() as session:
            rows += [(workspace, j) for j in await jobs.recent(session, workspace.id, limit=50)]
    rows.sort(key=lambda row: row[1].id, reverse=True)
    return page(request, signed, "jobs.html", rows=rows[:200])
