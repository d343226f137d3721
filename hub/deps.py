"""FastAPI dependencies: resources from the app state, and the authenticated workspace of a request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from core import apikeys
from core.apikeys import Principal
from core.tables import Workspace
from hub.api_limits import check_rest_limits
from hub.container import Services

bearer = HTTPBearer(auto_error=False, description="An API key from `switchboard apikey create`")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_principal(
    services: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """The API key's principal. Checked in its own short transaction (it records last use)."""
    unauthorized = HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="a valid API key is required: Authorization: Bearer <key>",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized
    async with services.sessions.begin() as session:
        principal = await apikeys.authenticate(session, credentials.credentials)
    if principal is None:
        raise unauthorized
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
WorkspaceName = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,63}$", description="workspace name (a slug)")]


@dataclass(frozen=True, slots=True)
class WorkspaceAccess:
    workspace: Workspace
    principal: Principal


async def get_workspace(
    workspace: WorkspaceName, principal: PrincipalDep, services: ServicesDep
) -> WorkspaceAccess:
    """The path's workspace, if the caller's key belongs to it. Another workspace looks like a missing one."""
    async with services.sessions() as session:
        found = await session.scalar(select(Workspace).where(Workspace.name == workspace))
    if found is None or found.id != principal.workspace_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"workspace {workspace!r} not found")
    await check_rest_limits(services, principal)
    return WorkspaceAccess(found, principal)


WorkspaceDep = Annotated[WorkspaceAccess, Depends(get_workspace)]


def require(access: WorkspaceAccess, role: str) -> None:
    if not access.principal.allows(role):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail=f"this API key's role cannot do this (needs {role})"
        )
