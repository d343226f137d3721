"""Admin pages of issue 10: analytics (charts + CSV), outbound webhooks with their delivery log,
saved queries (save, share, rerun with a diff) and search/ask exports (CSV, PDF)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import AfterValidator

from core import analytics, audit, saved_queries
from core.models import Asker, Question, SearchFilters, not_blank
from core.retrieval import Access
from core.tables import Workspace, utcnow
from hub import exports
from hub.admin import auth
from hub.admin.auth import CheckedDep, Signed, SignedDep
from hub.admin.render import back, page
from hub.admin.workspace_pages import Slug, visible_workspaces
from hub.deps import ServicesDep
from hub.outbound import guard
from hub.render import bar_chart, to_csv
from webhooks import outbound

router = APIRouter(prefix="/admin", include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
WsName = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,63}$")]
TableName = Annotated[str, Path(pattern=r"^[a-z_]{1,40}$")]
Days = Annotated[int, Query(ge=1, le=analytics.MAX_DAYS)]
CHARTS = ("questions_per_day", "top_topics", "cost_by_provider")


async def admin_workspaces(services: ServicesDep, signed: Signed, role: str = "admin") -> list[Workspace]:
    found = [ws for ws, _ in await visible_workspaces(services, signed) if signed.viewer.can(ws.id, role)]
    if not found:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail=f"this page needs the {role} role in a workspace"
        )
    return found


def chosen(workspaces: list[Workspace], name: str | None) -> Workspace:
    return next((ws for ws in workspaces if ws.name == name), workspaces[0])


# --- analytics ----------------------------------------------------------------------------------------


@router.get("/analytics", response_class=HTMLResponse)
async def analytics_page(
    request: Request, services: ServicesDep, signed: SignedDep, workspace: str | None = None, days: Days = 30
) -> HTMLResponse:
    options = await admin_workspaces(services, signed)
    target = chosen(options, workspace)
    async with services.sessions() as session:
        report = await analytics.report(session, target, days, utcnow())
    return page(
        request,
        signed,
        "analytics.html",
        options=options,
        target=target,
        days=days,
        report=report,
        charts=CHARTS,
    )


async def table_of(
    services: ServicesDep, signed: Signed, name: str, table: str, days: int
) -> analytics.Table:
    target = await auth.workspace_for(services, signed, name, "admin")
    if table not in analytics.TABLES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no table {table!r}")
    async with services.sessions() as session:
        return (await analytics.report(session, target, days, utcnow())).tables[table]


@router.get("/w/{name}/analytics/{table}.csv")
async def analytics_csv(
    name: WsName, table: TableName, services: ServicesDep, signed: SignedDep, days: Days = 30
) -> Response:
    found = await table_of(services, signed, name, table, days)
    return exports.ExportFile(to_csv(found.columns, found.rows), exports.CSV_TYPE, f"{table}.csv").response()


@router.get("/w/{name}/analytics/{table}.svg")
async def analytics_svg(
    name: WsName, table: TableName, services: ServicesDep, signed: SignedDep, days: Days = 30
) -> Response:
    found = await table_of(services, signed, name, table, days)
    column = 4 if table.startswith("cost_by_") else 1
    values = [float(row[column] or 0) for row in found.rows] if table != "feedback" else []
    chart = bar_chart(table.replace("_", " "), [str(r[0]) for r in found.rows][: len(values)], values)
    return Response(content=chart, media_type="image/svg+xml")


# --- webhooks -----------------------------------------------------------------------------------------


@router.get("/webhooks", response_class=HTMLResponse)
async def webhook_page(request: Request, services: ServicesDep, signed: SignedDep) -> HTMLResponse:
    options = await admin_workspaces(services, signed)
    rows = []
    async with services.sessions() as session:
        for ws in options:
            rows += [(ws, sub) for sub in await outbound.list_subscriptions(session, ws)]
    return page(
        request,
        signed,
        "webhooks.html",
        rows=rows,
        options=options,
        events=outbound.EVENT_NAMES,
        notice=request.query_params.get("ok", ""),
    )


@router.post("/webhooks", response_class=HTMLResponse)
async def webhook_create(
    request: Request,
    services: ServicesDep,
    signed: CheckedDep,
    workspace: Slug,
    url: Annotated[str, Form(min_length=8, max_length=2048)],
    events: Annotated[list[str], Form()],
) -> HTMLResponse:
    target = await auth.workspace_for(services, signed, workspace, "admin")
    async with services.sessions.begin() as session:
        row, secret = await outbound.subscribe(session, services.fernet, guard(services), target, url, events)
        entry = audit.Entry(actor=signed.actor(), action="webhook.create", workspace=workspace, target=url)
        audit.append(session, entry)
    shown = {"webhook": str(row.id), "url": url, "secret": secret}
    return page(request, signed, "shown_once.html", title="Webhook created", secret=shown)


@router.post("/w/{name}/webhooks/{sub_id}/delete")
async def webhook_delete(name: WsName, sub_id: Id, services: ServicesDep, signed: CheckedDep) -> Response:
    target = await auth.workspace_for(services, signed, name, "admin")
    async with services.sessions.begin() as session:
        row = await outbound.get_subscription(session, target, sub_id)
        audit.append(
            session,
            audit.Entry(actor=signed.actor(), action="webhook.delete", workspace=name, target=row.url),
        )
        await session.delete(row)
    return back("/admin/webhooks", ok=f"webhook {sub_id} removed")


@router.get("/w/{name}/webhooks/{sub_id}", response_class=HTMLResponse)
async def webhook_log(
    request: Request, name: WsName, sub_id: Id, services: ServicesDep, signed: SignedDep
) -> HTMLResponse:
    target = await auth.workspace_for(services, signed, name, "admin")
    async with services.sessions() as session:
        sub = await outbound.get_subscription(session, target, sub_id)
        log = await outbound.deliveries(session, target, sub_id, limit=200)
    return page(request, signed, "webhook_log.html", target=target, sub=sub, log=log)


# --- saved queries and exports ------------------------------------------------------------------------


def owner(signed: Signed) -> str:
    return f"user:{signed.viewer.email}"


@router.get("/saved", response_class=HTMLResponse)
async def saved_page(request: Request, services: ServicesDep, signed: SignedDep) -> HTMLResponse:
    options = [ws for ws, _ in await visible_workspaces(services, signed)]
    rows = []
    async with services.sessions() as session:
        for ws in options:
            rows += [(ws, q) for q in await saved_queries.visible(session, ws, owner(signed))]
    return page(
        request,
        signed,
        "saved.html",
        rows=rows,
        options=options,
        mine=owner(signed),
        notice=request.query_params.get("ok", ""),
    )


@router.post("/saved")
async def saved_create(
    services: ServicesDep,
    signed: CheckedDep,
    workspace: Slug,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    query: Annotated[str, AfterValidator(not_blank), Form(min_length=1, max_length=2000)],
    kind: Annotated[Literal["search", "ask"], Form()] = "search",
    shared: Annotated[bool, Form()] = False,
) -> Response:
    target = await auth.workspace_for(services, signed, workspace, "viewer")
    async with services.sessions.begin() as session:
        await saved_queries.save(session, target, owner(signed), name, kind, query, shared)
    return back("/admin/saved", ok=f"saved {name}")


async def run_documents(services: ServicesDep, target: Workspace, kind: str, query: str) -> dict[str, object]:
    if kind == "ask":
        answer = await services.asker.ask(
            target, Question(text=query), Asker(platform="admin"), Access(public_only=True)
        )
        return {
            "documents": list(dict.fromkeys(c.document_id for c in answer.citations)),
            "answer": answer.answer,
        }
    hits = await services.retriever.search(
        target, query, SearchFilters(), limit=10, access=Access(public_only=True)
    )
    return {"documents": list(dict.fromkeys(h.document_id for h in hits)), "answer": None}


@router.post("/w/{name}/saved/{query_id}/run", response_class=HTMLResponse)
async def saved_run(
    request: Request, name: WsName, query_id: Id, services: ServicesDep, signed: CheckedDep
) -> HTMLResponse:
    target = await auth.workspace_for(services, signed, name, "viewer")
    async with services.sessions() as session:
        saved = await saved_queries.get(session, target, owner(signed), query_id)
    results = await run_documents(services, target, saved.kind, saved.query)
    async with services.sessions.begin() as session:
        fresh = await saved_queries.get(session, target, owner(signed), query_id)
        diff = await saved_queries.record_run(session, fresh, dict(results))
    return page(request, signed, "saved_run.html", target=target, saved=saved, results=results, diff=diff)


@router.post("/export")
async def export_file(
    services: ServicesDep,
    signed: CheckedDep,
    workspace: Slug,
    query: Annotated[str, AfterValidator(not_blank), Form(min_length=1, max_length=2000)],
    kind: Annotated[Literal["search", "ask"], Form()] = "search",
    format: Annotated[Literal["csv", "pdf"], Form()] = "csv",
) -> Response:
    target = await auth.workspace_for(services, signed, workspace, "viewer")
    access = Access(public_only=True)
    if kind == "ask":
        answer = await services.asker.ask(target, Question(text=query), Asker(platform="admin"), access)
        return exports.answer_file(answer, format).response()
    hits = await services.retriever.search(target, query, SearchFilters(), limit=20, access=access)
    return exports.search_file(target.name, query, hits, format).response()
