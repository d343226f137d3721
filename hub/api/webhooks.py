"""REST: outbound webhook subscriptions of a workspace and their delivery log (admin keys only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from core.protect_tables import WebhookDelivery, WebhookSubscription
from hub.api.routes import PROBLEMS
from hub.api.schemas import UtcDatetime
from hub.deps import ServicesDep, WorkspaceDep, require
from hub.outbound import guard
from webhooks import outbound

router = APIRouter(prefix="/api/v1/workspaces/{workspace}", tags=["webhooks"], responses=PROBLEMS)
SubId = Annotated[int, Path(ge=1, le=2**31 - 1, description="webhook subscription id")]


class SubscriptionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2048, description="http(s) URL to POST events to")
    events: list[str] = Field(min_length=1, max_length=10, description=", ".join(outbound.EVENT_NAMES))
    description: str = Field(default="", max_length=200)


class SubscriptionView(BaseModel):
    id: int
    url: str
    events: list[str]
    active: bool
    description: str
    created_at: UtcDatetime


class CreatedSubscription(SubscriptionView):
    secret: str = Field(description="the signing secret (whsec_...), shown only once")


class DeliveryView(BaseModel):
    id: int
    message_id: str
    event_type: str
    attempt: int
    status: str
    status_code: int | None
    error: str | None
    duration_ms: float
    created_at: UtcDatetime


def view(row: WebhookSubscription) -> SubscriptionView:
    return SubscriptionView(
        id=row.id,
        url=row.url,
        events=list(row.events),
        active=row.active,
        description=row.description,
        created_at=row.created_at,
    )


def delivery_view(row: WebhookDelivery) -> DeliveryView:
    return DeliveryView.model_validate(row, from_attributes=True)


@router.post(
    "/webhooks",
    status_code=status.HTTP_201_CREATED,
    response_model=CreatedSubscription,
    summary="Subscribe a URL to events; the signing secret is returned once",
)
async def create_webhook(
    body: SubscriptionRequest, access: WorkspaceDep, services: ServicesDep
) -> CreatedSubscription:
    require(access, "admin")
    async with services.sessions.begin() as session:
        row, secret = await outbound.subscribe(
            session,
            services.fernet,
            guard(services),
            access.workspace,
            body.url,
            body.events,
            body.description,
        )
    return CreatedSubscription(**view(row).model_dump(), secret=secret)


@router.get("/webhooks", response_model=list[SubscriptionView], summary="This workspace's webhooks")
async def list_webhooks(access: WorkspaceDep, services: ServicesDep) -> list[SubscriptionView]:
    require(access, "admin")
    async with services.sessions() as session:
        return [view(r) for r in await outbound.list_subscriptions(session, access.workspace)]


@router.delete(
    "/webhooks/{sub_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a webhook subscription"
)
async def delete_webhook(sub_id: SubId, access: WorkspaceDep, services: ServicesDep) -> None:
    require(access, "admin")
    async with services.sessions.begin() as session:
        await session.delete(await outbound.get_subscription(session, access.workspace, sub_id))


@router.get(
    "/webhooks/{sub_id}/deliveries",
    response_model=list[DeliveryView],
    summary="The delivery log of one webhook, newest first (one row per attempt)",
)
async def list_deliveries(
    sub_id: SubId,
    access: WorkspaceDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryView]:
    require(access, "admin")
    async with services.sessions() as session:
        rows = await outbound.deliveries(session, access.workspace, sub_id, limit=limit)
    return [delivery_view(r) for r in rows]
