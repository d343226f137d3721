"""REST: bulk uploads (202 + a job) and jobs (state, list, live progress as server-sent events)."""

from __future__ import annotations

import shutil
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from core import jobs
from core.errors import InvalidInput
from core.models import check_slug
from hub import uploads
from hub.api.routes import PROBLEMS
from hub.deps import ServicesDep, WorkspaceDep, require
from hub.progress import follow
from hub.queue import submit

JobId = Annotated[int, Path(ge=1, le=2**31 - 1, description="job id")]

router = APIRouter(prefix="/api/v1/workspaces/{workspace}", tags=["jobs"], responses=PROBLEMS)


class JobView(BaseModel):
    id: int
    kind: str
    status: str
    progress: int
    total: int
    counts: dict[str, int]
    errors: list[dict[str, str]]
    attempts: int
    created_at: str | None
    started_at: str | None
    finished_at: str | None


class Accepted(BaseModel):
    job_id: int
    status: str
    files: int
    events: str


def view(snapshot: dict[str, Any]) -> JobView:
    return JobView.model_validate({k: v for k, v in snapshot.items() if k != "workspace_id"})


UPLOAD_FORM = {
    "type": "object",
    "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "collection": {"type": "string", "pattern": "^[a-z0-9-]{1,63}$"},
    },
    "required": ["files"],
}

UPLOAD_DOC = """Send files as `multipart/form-data`, one part per file (any field name; `files` is usual), and
optionally a `collection` field. Files are streamed to disk, type is sniffed from content, zip archives
are expanded. Returns 202 with a job to follow at `/jobs/{id}/events`."""


@router.post(
    "/documents",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    summary="Upload many files (and zip archives) to index, as one background job",
    description=UPLOAD_DOC,
    responses={413: {"description": "the request is over the per-request size cap"}},
    openapi_extra={
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": UPLOAD_FORM}}}
    },
)
async def upload(request: Request, access: WorkspaceDep, services: ServicesDep) -> Accepted:
    require(access, "editor")
    settings = services.settings
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > settings.ingest.max_request_mb * uploads.MB:
        raise uploads.too_large(settings)
    received = await uploads.receive(settings, request.headers.get("content-type"), request.stream())
    try:
        if not received.files:
            raise InvalidInput("the request has no files (send one multipart part per file)")
        collection = check_slug(received.fields.get("collection") or "default", "collection")
        params = received.params(collection)
        job = await submit(services, access.workspace.id, "upload", params, total=len(received.files))
    except BaseException:
        shutil.rmtree(received.folder, ignore_errors=True)
        raise
    url = f"/api/v1/workspaces/{access.workspace.name}/jobs/{job.id}/events"
    return Accepted(job_id=job.id, status=job.status, files=len(received.files), events=url)


@router.get("/jobs", response_model=list[JobView], summary="Recent jobs of this workspace, newest first")
async def list_jobs(
    access: WorkspaceDep, services: ServicesDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[JobView]:
    async with services.sessions() as session:
        found = await jobs.recent(session, access.workspace.id, limit=limit)
    return [view(jobs.snapshot(job)) for job in found]


@router.get("/jobs/{job_id}", response_model=JobView, summary="One job: status, progress, counts, errors")
async def get_job(job_id: JobId, access: WorkspaceDep, services: ServicesDep) -> JobView:
    async with services.sessions() as session:
        job = await jobs.get(session, access.workspace.id, job_id)
    return view(jobs.snapshot(job))


@router.get(
    "/jobs/{job_id}/events",
    summary="Live progress of one job as server-sent events, until it is done or failed",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def job_events(job_id: JobId, access: WorkspaceDep, services: ServicesDep) -> StreamingResponse:
    async with services.sessions() as session:
        await jobs.get(session, access.workspace.id, job_id)  # 404 before the stream starts
    return StreamingResponse(
        follow(services, access.workspace.id, job_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
