"""Dashboard, workspaces (access lists, chat admins) and channel mappings (incl. the DM default)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import accounts, audit, channels, workspaces
from core.tables import Job, Source, TeamDefault, Workspace
from hub.admin import auth
from hub.admin.auth import CheckedDep, SignedDep
from hub.admin.render import back, page
from hub.deps import ServicesDep

router = APIRouter(prefix="/admin", include_in_schema=False)

Slug = Annotated[str, Form(pattern=r"^[a-z0-9-]{1,63}$")]
Platform = Annotated[Literal["slack", "teams"], Form()]
Id = Annotated[str, Form(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._:@-]+$")]


async def visible_workspaces(services: ServicesDep, signed: auth.Signed) -> list[tuple[Workspace, int]]:
    async with services.sessions() as session:
        listed = await workspaces.list_all(session)
    return [(ws, n) for ws, n in listed if signed.viewer.can(ws.id, "viewer")]


async def health(services: ServicesDep, workspace: Workspace) -> dict[str, object]:
    """Sources in trouble and failed jobs of the last 50: ``ok`` or ``degraded``."""
    async with services.sessions() as session:
        bad_sources = await session.scalar(
            select(func.count(Source.id)).where(
                Source.workspace_id == workspace.id, Source.last_error.is_not(None)
            )
        )
        recent = (
            select(Job.status)
            .where(Job.workspace_id == workspace.id)
            .order_by(Job.id.desc())
            .limit(50)
            .subquery()
        )
        failed = await session.scalar(
            select(func.count()).select_from(recent).where(recent.c.status == "failed")
        )
    problems = int(bad_sources or 0) + int(failed or 0)
    return {
        "status": "ok" if problems == 0 else "degraded",
        "bad_sources": bad_sources,
        "failed_jobs": failed,
    }


@router.get("", response_class=HTMLResponse)
async def dashboard(request: Request, services: ServicesDep, signed: SignedDep) -> HTMLResponse:
    rows = [(ws, n, await health(services, ws)) for ws, n in await visible_workspaces(services, signed)]
    return page(request, signed, "dashboard.html", rows=rows)


@router.get("/workspaces", response_class=HTMLResponse)
async def workspace_list(request: Request, services: ServicesDep, signed: SignedDep) -> HTMLResponse:
    rows = await visible_workspaces(services, signed)
    return page(request, signed, "workspaces.html", rows=rows, notice=request.query_params.get("ok", ""))


@router.post("/workspaces")
async def workspace_create(services: ServicesDep, signed: CheckedDep, name: Slug) -> Response:
    auth.require_owner(signed)
    async with services.sessions.begin() as session:
        await workspaces.create(session, name)
        audit.append(session, audit.Entry(actor=signed.actor(), action="workspace.create", workspace=name))
    return back(f"/admin/w/{name}", ok=f"workspace {name} created")


@router.get("/w/{name}", response_class=HTMLResponse)
async def workspace_detail(
    request: Request, name: str, services: ServicesDep, signed: SignedDep
) -> HTMLResponse:
    workspace = await auth.workspace_for(services, signed, name, "viewer")
    async with services.sessions() as session:
        people = await accounts.access_list(session, workspace)
        admins = await workspaces.chat_admins(session, workspace)
        collections = await workspaces.collection_names(session, workspace.id)
    return page(
        request,
        signed,
        "workspace.html",
        workspace=workspace,
        people=people,
        chat_admins=admins,
        collections=collections,
        can_admin=signed.viewer.can(workspace.id, "admin"),
        notice=request.query_params.get("ok", ""),
    )


@router.post("/w/{name}/access")
async def workspace_access(
    name: str,
    services: ServicesDep,
    signed: CheckedDep,
    email: Annotated[str, Form(max_length=320)],
    role: Annotated[Literal["viewer", "editor", "admin", "none"], Form()],
) -> Response:
    workspace = await auth.workspace_for(services, signed, name, "admin")
    async with services.sessions.begin() as session:
        user = await accounts.get_user(session, email)
        await accounts.set_role(session, user, workspace, None if role == "none" else role)
        entry = audit.Entry(
            actor=signed.actor(),
            action="access.set",
            workspace=name,
            target=user.email,
            detail={"role": role},
        )
        audit.append(session, entry)
    return back(f"/admin/w/{name}", ok=f"{user.email}: {role}")


@router.post("/w/{name}/chat-admins")
async def workspace_chat_admins(
    name: str,
    services: ServicesDep,
    signed: CheckedDep,
    platform: Platform,
    user_id: Id,
    op: Annotated[Literal["add", "remove"], Form()],
) -> Response:
    workspace = await auth.workspace_for(services, signed, name, "admin")
    async with services.sessions.begin() as session:
        if op == "add":
            await workspaces.add_chat_admin(session, workspace, platform, user_id)
        else:
            await workspaces.remove_chat_admin(session, workspace, platform, user_id)
        entry = audit.Entry(
            actor=signed.actor(), action=f"chat_admin.{op}", workspace=name, target=f"{platform}:{user_id}"
        )
        audit.append(session, entry)
    return back(f"/admin/w/{name}", ok=f"chat admin {op}: {platform} {user_id}")


@router.get("/channels", response_class=HTMLResponse)
async def channel_list(request: Request, services: ServicesDep, signed: SignedDep) -> HTMLResponse:
    async with services.sessions() as session:
        mappings = [
            (m, ws)
            for m, ws in await channels.list_mappings(session)
            if signed.viewer.can(m.workspace_id, "viewer")
        ]
        defaults = (
            await session.execute(
                select(TeamDefault, Workspace.name).join(Workspace, Workspace.id == TeamDefault.workspace_id)
            )
        ).all()
    admin_of = [
        ws.name for ws, _ in await visible_workspaces(services, signed) if signed.viewer.can(ws.id, "admin")
    ]
    return page(
        request,
        signed,
        "channels.html",
        mappings=mappings,
        admin_of=admin_of,
        defaults=[(d, ws) for d, ws in defaults if signed.viewer.can(d.workspace_id, "viewer")],
        notice=request.query_params.get("ok", ""),
    )


@router.post("/channels/map")
async def channel_map(
    services: ServicesDep,
    signed: CheckedDep,
    platform: Platform,
    team: Id,
    channel: Annotated[str, Form(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9._:@;=-]+$")],
    workspace: Slug,
    tenant: Annotated[str, Form(max_length=255)] = "",
) -> Response:
    target = await auth.workspace_for(services, signed, workspace, "admin")
    async with services.sessions.begin() as session:
        existing = await channels.find(session, platform, team, channel)
        if existing is not None:  # re-mapping takes the channel away from its workspace: admin there too
            await auth.workspace_for(services, signed, await name_of(session, existing.workspace_id), "admin")
        await channels.map_channel(
            session,
            platform=platform,
            team_id=team,
            channel_id=channel,
            workspace=target,
            tenant_id=tenant or None,
        )
        audit.append(
            session,
            audit.Entry(
                actor=signed.actor(),
                action="channel.map",
                workspace=workspace,
                target=f"{platform}:{team}/{channel}",
            ),
        )
    return back("/admin/channels", ok=f"{platform} {team}/{channel} → {workspace}")


async def name_of(session: AsyncSession, workspace_id: int) -> str:
    return str(await session.scalar(select(Workspace.name).where(Workspace.id == workspace_id)))


@router.post("/channels/unmap")
async def channel_unmap(
    services: ServicesDep,
    signed: CheckedDep,
    platform: Platform,
    team: Id,
    channel: Annotated[str, Form(min_length=1, max_length=512)],
) -> Response:
    async with services.sessions.begin() as session:
        existing = await channels.find(session, platform, team, channel)
        workspace = await name_of(session, existing.workspace_id) if existing else ""
    if existing is None:
        return back("/admin/channels", ok="not mapped")
    await auth.workspace_for(services, signed, workspace, "admin")
    async with services.sessions.begin() as session:
        await channels.unmap_channel(session, platform, team, channel)
        audit.append(
            session,
            audit.Entry(
                actor=signed.actor(),
                action="channel.unmap",
                workspace=workspace,
                target=f"{platform}:{team}/{channel}",
            ),
        )
    return back("/admin/channels", ok=f"{platform} {team}/{channel} unmapped")


@router.post("/channels/default")
async def channel_default(
    services: ServicesDep, signed: CheckedDep, platform: Platform, team: Id, workspace: Slug
) -> Response:
    auth.require_owner(signed)  # a team's DMs span every workspace: the owner decides
    async with services.sessions.begin() as session:
        target = await workspaces.get(session, workspace)
        await workspaces.set_team_default(session, platform, team, target)
        audit.append(
            session,
            audit.Entry(
                actor=signed.actor(),
                action="channel.default",
                workspace=workspace,
                target=f"{platform}:{team}",
            ),
        )
    return back("/admin/channels", ok=f"DMs of {platform} {team} → {workspace}")
