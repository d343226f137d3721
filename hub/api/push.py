"""REST: turn change pushes on or off for a source, and see its Graph subscription."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete

from core import push as pushes
from core.tables import SourcePush
from hub import sources
from hub.api.routes import PROBLEMS
from hub.deps import ServicesDep, WorkspaceDep, require
from hub.push import default_graph_resource

SourceId = Annotated[int, Path(ge=1, le=2**31 - 1, description="source id")]

router = APIRouter(prefix="/api/v1/workspaces/{workspace}/sources", tags=["push"], responses=PROBLEMS)


class PushIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    graph_resource: str | None = Field(
        default=None,
        max_length=1024,
        pattern=r"^[A-Za-z0-9!_.~:/@'()=,-]+$",
        description="Graph resource to subscribe to; default for SharePoint sources: drives/<drive id>/root",
    )


class PushEnabled(BaseModel):
    secret: str = Field(
        description="shown once: signs Confluence and generic pushes, and is the Graph clientState"
    )
    confluence_url: str
    generic_url: str
    graph_resource: str | None


class PushView(BaseModel):
    graph_resource: str | None
    graph_subscription_id: str | None
    graph_expires_at: str | None


@router.post(
    "/{source_id}/push",
    status_code=status.HTTP_201_CREATED,
    response_model=PushEnabled,
    summary="Create (or rotate) the source's push secret",
)
async def enable_push(
    source_id: SourceId, body: PushIn, access: WorkspaceDep, services: ServicesDep
) -> PushEnabled:
    require(access, "admin")
    source = await sources.get(services, access.workspace, source_id)
    resource = body.graph_resource or default_graph_resource(source)
    async with services.sessions.begin() as session:
        secret = await pushes.enable(session, services.fernet, source, graph_resource=resource)
    base = (services.settings.push.public_url or "").rstrip("/")
    return PushEnabled(
        secret=secret,
        confluence_url=f"{base}/webhooks/confluence/{source.id}",
        generic_url=f"{base}/webhooks/sources/{source.id}",
        graph_resource=resource,
    )


@router.get("/{source_id}/push", response_model=PushView, summary="The source's push settings (no secret)")
async def get_push(source_id: SourceId, access: WorkspaceDep, services: ServicesDep) -> PushView:
    source = await sources.get(services, access.workspace, source_id)
    async with services.sessions() as session:
        _, row = await pushes.of_source(session, source.id)
    expires = row.graph_expires_at.isoformat() if row.graph_expires_at else None
    return PushView(
        graph_resource=row.graph_resource,
        graph_subscription_id=row.graph_subscription_id,
        graph_expires_at=expires,
    )


@router.delete(
    "/{source_id}/push",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Refuse the source's pushes from now on",
)
async def disable_push(source_id: SourceId, access: WorkspaceDep, services: ServicesDep) -> Response:
    require(access, "admin")
    source = await sources.get(services, access.workspace, source_id)
    async with services.sessions.begin() as session:
        await session.execute(delete(SourcePush).where(SourcePush.source_id == source.id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
