"""Users and roles (owners), API keys (create shown once, revoke, last used), LLM providers, audit log."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy import select

from core import accounts, apikeys, audit, workspaces
from core.account_tables import AuditEvent, User
from core.tables import ApiKey
from hub.admin import auth
from hub.admin.auth import CheckedDep, SignedDep
from hub.admin.render import back, page
from hub.admin.workspace_pages import Slug, visible_workspaces
from hub.deps import ServicesDep

router = APIRouter(prefix="/admin", include_in_schema=False)


@router.get("/users", response_class=HTMLResponse)
async def user_list(request: Request, services: ServicesDep, signed: SignedDep) -> HTMLResponse:
    auth.require_owner(signed)
    async with services.sessions() as session:
        users = (await session.scalars(select(User).order_by(User.email))).all()
        roles = {u.id: (await accounts.viewer_of(session, u)).roles for u in users}
        names = {ws.id: ws.name for ws, _ in await workspaces.list_all(session)}
    return page(request, signed, "users.html", users=users, roles=roles, names=names)


@router.post("/users", response_class=HTMLResponse)
async def user_create(
    request: Request,
    services: ServicesDep,
    signed: CheckedDep,
    email: Annotated[str, Form(max_length=320)],
    owner: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    auth.require_owner(signed)
    async with services.sessions.begin() as session:
        user, password = await accounts.create_user(session, request.app.state.hasher, email, owner=owner)
        audit.append(
            session,
            audit.Entry(
                actor=signed.actor(), action="user.create", target=user.email, detail={"owner": owner}
            ),
        )
    shown = {"email": user.email, "password": password}
    return page(request, signed, "shown_once.html", title="User created", secret=shown)


def masked(secret: str) -> str:
    return "(none)" if not secret else f"{secret[:3]}…{secret[-2:]}" if len(secret) > 8 else "••••"


@router.get("/keys", response_class=HTMLResponse)
async def key_list(request: Request, services: ServicesDep, signed: SignedDep) -> HTMLResponse:
    async with services.sessions() as session:
        keys = [
            (k, ws)
            for k, ws in await apikeys.list_keys(session)
            if signed.viewer.can(k.workspace_id, "admin")
        ]
    admin_of = [
        ws.name for ws, _ in await visible_workspaces(services, signed) if signed.viewer.can(ws.id, "admin")
    ]
    if not admin_of:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="API keys need the admin role in a workspace")
    return page(
        request, signed, "keys.html", keys=keys, admin_of=admin_of, notice=request.query_params.get("ok", "")
    )


@router.post("/keys", response_class=HTMLResponse)
async def key_create(
    request: Request,
    services: ServicesDep,
    signed: CheckedDep,
    workspace: Slug,
    role: Annotated[Literal["viewer", "editor", "admin"], Form()],
    name: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    target = await auth.workspace_for(services, signed, workspace, "admin")
    async with services.sessions.begin() as session:
        key, plaintext = await apikeys.create(session, target, role, name)
        audit.append(
            session,
            audit.Entry(
                actor=signed.actor(),
                action="apikey.create",
                workspace=workspace,
                target=key.prefix,
                detail={"role": role, "name": name},
            ),
        )
    shown = {"workspace": workspace, "role": role, "key": plaintext}
    return page(request, signed, "shown_once.html", title="API key created", secret=shown)


@router.post("/keys/revoke")
async def key_revoke(
    services: ServicesDep, signed: CheckedDep, prefix: Annotated[str, Form(pattern=r"^[0-9a-f]{8}$")]
) -> Response:
    async with services.sessions() as session:
        found = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    names = {ws.id: ws.name for ws, _ in await visible_workspaces(services, signed)}
    if found is None or found.workspace_id not in names:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such API key")
    workspace = names[found.workspace_id]
    await auth.workspace_for(services, signed, workspace, "admin")
    async with services.sessions.begin() as session:
        await apikeys.revoke(session, prefix)
        audit.append(
            session,
            audit.Entry(actor=signed.actor(), action="apikey.revoke", workspace=workspace, target=prefix),
        )
    return back("/admin/keys", ok=f"key {prefix} revoked")


@router.get("/llm", response_class=HTMLResponse)
async def llm_list(request: Request, services: ServicesDep, signed: SignedDep) -> HTMLResponse:
    auth.require_owner(signed)
    providers = [(p, masked(p.api_key.get_secret_value())) for p in services.settings.llm.providers]
    return page(request, signed, "llm.html", providers=providers)


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, detail=f"bad time {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.now().astimezone().tzinfo)


Text = Annotated[str | None, Query(max_length=320)]


async def audit_rows(
    services: ServicesDep,
    signed: auth.Signed,
    actor: str | None,
    workspace: str | None,
    action: str | None,
    since: str | None,
    until: str | None,
    limit: int = 500,
) -> list[AuditEvent]:
    """Owners read everything; a workspace admin reads the events of the workspaces they administer."""
    if not signed.viewer.is_any_admin():
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="the audit log needs the admin role")
    visible = (
        None
        if signed.viewer.is_owner
        else [
            ws.name
            for ws, _ in await visible_workspaces(services, signed)
            if signed.viewer.can(ws.id, "admin")
        ]
    )
    filters = audit.Filter(
        actor or None, workspace or None, action or None, parse_time(since), parse_time(until)
    )
    async with services.sessions() as session:
        return await audit.read(session, filters, visible, limit=limit)


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    services: ServicesDep,
    signed: SignedDep,
    actor: Text = None,
    workspace: Text = None,
    action: Text = None,
    since: Text = None,
    until: Text = None,
) -> HTMLResponse:
    rows = await audit_rows(services, signed, actor, workspace, action, since, until)
    return page(
        request,
        signed,
        "audit.html",
        rows=rows,
        query=request.url.query,
        filters={"actor": actor, "workspace": workspace, "action": action, "since": since, "until": until},
    )


COLUMNS = ["id", "created_at", "actor", "workspace", "action", "target", "channel", "document_ids", "detail"]


def csv_lines(rows: list[AuditEvent]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for e in rows:
        cells = [
            e.id,
            e.created_at.isoformat(),
            e.actor,
            e.workspace or "",
            e.action,
            e.target,
            e.channel or "",
            " ".join(e.document_ids or []),
            e.detail,
        ]
        writer.writerow([defuse(str(c)) for c in cells])
    yield buffer.getvalue()


def defuse(cell: str) -> str:
    """No spreadsheet formula injection: a cell starting with = + - @ is quoted as text."""
    return f"'{cell}" if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


@router.get("/audit.csv")
async def audit_csv(
    services: ServicesDep,
    signed: SignedDep,
    actor: Text = None,
    workspace: Text = None,
    action: Text = None,
    since: Text = None,
    until: Text = None,
) -> StreamingResponse:
    rows = await audit_rows(services, signed, actor, workspace, action, since, until, limit=100_000)
    await auth.record(
        services,
        audit.Entry(
            actor=signed.actor(), action="audit.export", workspace=workspace, detail={"rows": len(rows)}
        ),
    )
    return StreamingResponse(
        csv_lines(rows),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )
