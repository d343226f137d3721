"""FastAPI dependencies: resources from the app state, and the authenticated workspace of a request."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from core import accounts, apikeys
from core.apikeys import Principal
from core.tables import Workspace
from hub.api_limits import check_rest_limits
from hub.container import Services

bearer = HTTPBearer(auto_error=False, description="An API key from `switchboard apikey create`")


async def get_services(request: Request) -> Services:
    """Async on purpose: FastAPI runs a plain ``def`` dependency in its threadpool, a thread hop on every
    request for one attribute lookup."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def unauthorized() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="a valid API key is required: Authorization: Bearer <key>",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def key_principal(
    services: Services, credentials: HTTPAuthorizationCredentials | None, workspace: str
) -> tuple[Principal, Workspace | None]:
    """The API key's principal and the named workspace, read in one statement (and the key's last use
    written at most once a minute)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized()
    authenticated = await apikeys.authenticate(
        services.reads, services.sessions, credentials.credentials, workspace
    )
    if authenticated is None:
        raise unauthorized()
    return authenticated


WorkspaceName = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,63}$", description="workspace name (a slug)")]


@dataclass(frozen=True, slots=True)
class WorkspaceAccess:
    workspace: Workspace
    principal: Principal


SESSION_COOKIE = "sb_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


async def session_principal(request: Request, services: Services, workspace: Workspace | None) -> Principal:
    """An admin-page session as a caller of the REST API: its role in this workspace (owners: admin).

    A cookie rides along with any cross-site request, so unsafe methods also need the CSRF header.
    """
    async with services.sessions() as session:
        found = await accounts.find_session(session, request.cookies.get(SESSION_COOKIE, ""))
        viewer = await accounts.viewer_of(session, found[0]) if found is not None else None
    if found is None or viewer is None:
        raise unauthorized()
    presented = request.headers.get(CSRF_HEADER, "")
    if request.method not in SAFE_METHODS and not hmac.compare_digest(presented, found[1].csrf):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="missing or wrong X-CSRF-Token header")
    role = None if workspace is None else "admin" if viewer.is_owner else viewer.roles.get(workspace.id)
    if workspace is None or role is None:
        return Principal(0, -1, "viewer", actor=viewer.email)
    return Principal(0, workspace.id, role, actor=viewer.email)


async def get_workspace(
    workspace: WorkspaceName,
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> WorkspaceAccess:
    """The path's workspace, if the caller (an API key, else an admin-page session) may see it.

    Another workspace looks like a missing one."""
    if credentials is not None or SESSION_COOKIE not in request.cookies:
        principal, found = await key_principal(services, credentials, workspace)
    else:
        async with services.sessions() as session:
            found = await session.scalar(select(Workspace).where(Workspace.name == workspace))
        principal = await session_principal(request, services, found)
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
