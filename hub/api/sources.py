"""REST: the sources of a workspace (connectors), and syncs queued as jobs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field

from hub import sources
from hub.api.routes import PROBLEMS
from hub.deps import ServicesDep, WorkspaceDep, require

SourceId = Annotated[int, Path(ge=1, le=2**31 - 1, description="source id")]

router = APIRouter(prefix="/api/v1/workspaces/{workspace}", tags=["sources"], responses=PROBLEMS)


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["confluence", "sharepoint", "slack", "web"]
    name: str = Field(min_length=1, max_length=200)
    collection: str = Field(default="default", pattern=r"^[a-z0-9-]{1,63}$")
    config: dict[str, Any] = Field(default_factory=dict)
    secret: dict[str, Any] = Field(
        default_factory=dict, description="credentials; stored encrypted, never shown"
    )
    refresh_interval_s: int | None = Field(default=None, ge=60, le=30 * 86400)


class SourceView(BaseModel):
    id: int
    type: str
    name: str
    collection: str
    config: dict[str, Any]
    has_secret: bool
    refresh_interval_s: int | None
    status: str
    last_error: str | None
    last_synced_at: str | None
    cursor_saved: bool


class SyncQueued(BaseModel):
    job_id: int
    status: str
    events: str


@router.post(
    "/sources", status_code=status.HTTP_201_CREATED, response_model=SourceView, summary="Add a source"
)
async def add_source(body: SourceIn, access: WorkspaceDep, services: ServicesDep) -> SourceView:
    require(access, "admin")
    source = await sources.add(
        services,
        access.workspace,
        source_type=body.type,
        name=body.name,
        collection=body.collection,
        config=body.config,
        secret=body.secret,
        refresh_interval_s=body.refresh_interval_s,
    )
    return SourceView.model_validate(sources.view(source, body.collection))


@router.get("/sources", response_model=list[SourceView], summary="Sources of this workspace")
async def list_sources(access: WorkspaceDep, services: ServicesDep) -> list[SourceView]:
    found = await sources.list_all(services, access.workspace)
    return [SourceView.model_validate(sources.view(s, c)) for s, c in found]


@router.get("/sources/{source_id}", response_model=SourceView, summary="One source and its sync state")
async def get_source(source_id: SourceId, access: WorkspaceDep, services: ServicesDep) -> SourceView:
    source = await sources.get(services, access.workspace, source_id)
    return SourceView.model_validate(sources.view(source, await sources.collection_name(services, source)))


@router.delete(
    "/sources/{source_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a source and its documents",
)
async def remove_source(source_id: SourceId, access: WorkspaceDep, services: ServicesDep) -> None:
    require(access, "admin")
    await sources.remove(services, access.workspace, source_id)


@router.post(
    "/sources/{source_id}/sync",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SyncQueued,
    summary="Queue a sync of this source now (also resumes a paused source)",
)
async def sync_source(source_id: SourceId, access: WorkspaceDep, services: ServicesDep) -> SyncQueued:
    require(access, "editor")
    source = await sources.get(services, access.workspace, source_id)
    job = await sources.enqueue_sync(services, source.id, "api")
    url = f"/api/v1/workspaces/{access.workspace.name}/jobs/{job.id}/events"
    return SyncQueued(job_id=job.id, status=job.status, events=url)
