"""REST: GDPR export and erasure of one person within this workspace, and its retention policy (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from core import retention
from core.people import Identity
from hub import protection
from hub.api.routes import PROBLEMS
from hub.deps import ServicesDep, WorkspaceDep, require

router = APIRouter(prefix="/api/v1/workspaces/{workspace}", tags=["privacy"], responses=PROBLEMS)


class Account(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: str = Field(min_length=1, max_length=32)
    user_id: str = Field(min_length=1, max_length=255)


class PersonRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    accounts: list[Account] = Field(default_factory=list, max_length=50, description="their chat user ids")

    def identity(self) -> Identity:
        return Identity(self.email, tuple((a.platform, a.user_id) for a in self.accounts))


class RetentionView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    questions_days: int | None = Field(
        default=None, ge=1, le=retention.MAX_DAYS, description="unset: forever"
    )
    conversations_days: int | None = Field(default=None, ge=1, le=retention.MAX_DAYS)


@router.post("/people/export", summary="Everything this workspace holds about a person, as JSON")
async def export_person(body: PersonRequest, access: WorkspaceDep, services: ServicesDep) -> dict[str, Any]:
    require(access, "admin")
    return await protection.export_person(services, body.identity(), access.workspace.id)


@router.post("/people/delete", summary="Erase a person's questions, feedback and conversations here")
async def delete_person(body: PersonRequest, access: WorkspaceDep, services: ServicesDep) -> dict[str, int]:
    require(access, "admin")
    return await protection.erase_person(services, body.identity(), access.workspace.id)


@router.get(
    "/retention", response_model=RetentionView, summary="How long questions and conversations are kept"
)
async def get_retention(access: WorkspaceDep, services: ServicesDep) -> RetentionView:
    require(access, "admin")
    async with services.sessions() as session:
        row = await retention.get_policy(session, access.workspace)
    return RetentionView(questions_days=row.questions_days, conversations_days=row.conversations_days)


@router.put("/retention", response_model=RetentionView, summary="Set the retention (enforced hourly)")
async def put_retention(body: RetentionView, access: WorkspaceDep, services: ServicesDep) -> RetentionView:
    require(access, "admin")
    async with services.sessions.begin() as session:
        await retention.set_policy(session, access.workspace, body.questions_days, body.conversations_days)
    return body
