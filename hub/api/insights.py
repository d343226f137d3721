"""REST: analytics (JSON, CSV per table, SVG charts), search/ask exports (CSV, PDF) and saved queries."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from core import analytics, saved_queries
from core.models import Answer, Asker, QueryText, Question, SearchFilters, SearchHit
from core.retrieval import Access
from core.tables import utcnow
from hub import exports
from hub.api.routes import PROBLEMS
from hub.api.schemas import AskRequest, SearchRequest, UtcDatetime
from hub.deps import ServicesDep, WorkspaceAccess, WorkspaceDep, require
from hub.render import bar_chart, to_csv

router = APIRouter(prefix="/api/v1/workspaces/{workspace}", tags=["insights"], responses=PROBLEMS)

Days = Annotated[int, Query(ge=1, le=analytics.MAX_DAYS, description="window: the last N days")]
Format = Annotated[Literal["csv", "pdf"], Query(description="csv or pdf")]
QueryId = Annotated[int, Path(ge=1, le=2**31 - 1, description="saved query id")]
Responses = dict[int | str, dict[str, Any]]
CSV: Responses = {200: {"content": {"text/csv": {}}, "description": "a CSV file"}}
SVG: Responses = {200: {"content": {"image/svg+xml": {}}, "description": "an SVG chart"}}
FILES: Responses = {
    200: {"content": {"text/csv": {}, "application/pdf": {}}, "description": "a CSV or PDF file"}
}


class TableView(BaseModel):
    columns: list[str]
    rows: list[list[Any]]


class AnalyticsView(BaseModel):
    workspace: str
    since: datetime
    until: datetime
    summary: dict[str, Any]
    tables: dict[str, TableView]


async def build_report(services: ServicesDep, access: WorkspaceAccess, days: int) -> analytics.Report:
    require(access, "admin")  # per-user costs and questions: admins only
    async with services.sessions() as session:
        return await analytics.report(session, access.workspace, days, utcnow())


@router.get("/analytics", response_model=AnalyticsView, summary="Usage, quality and cost figures")
async def get_analytics(access: WorkspaceDep, services: ServicesDep, days: Days = 30) -> AnalyticsView:
    found = await build_report(services, access, days)
    tables = {
        n: TableView(columns=list(t.columns), rows=[list(r) for r in t.rows]) for n, t in found.tables.items()
    }
    return AnalyticsView(
        workspace=found.workspace, since=found.since, until=found.until, summary=found.summary, tables=tables
    )


def attachment(body: str | bytes, media_type: str, filename: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(content=body, media_type=media_type, headers=headers)


@router.get("/analytics/{table}/csv", response_class=Response, responses=CSV, summary="One table as CSV")
async def analytics_csv(
    table: analytics.TableName, access: WorkspaceDep, services: ServicesDep, days: Days = 30
) -> Response:
    found = (await build_report(services, access, days)).tables[table]
    return attachment(to_csv(found.columns, found.rows), "text/csv; charset=utf-8", f"{table}.csv")


@router.get("/analytics/{table}/svg", response_class=Response, responses=SVG, summary="One table as a chart")
async def analytics_svg(
    table: analytics.TableName, access: WorkspaceDep, services: ServicesDep, days: Days = 30
) -> Response:
    found = (await build_report(services, access, days)).tables[table]
    labels = [str(r[0]) for r in found.rows]
    values = [float(r[1] or 0) if table != "feedback" else float(r[0]) for r in found.rows]
    if table.startswith("cost_by_"):
        values = [float(r[4]) for r in found.rows]
    chart = bar_chart(f"{table.replace('_', ' ')} — last {days} days", labels, values)
    return Response(content=chart, media_type="image/svg+xml")


# --- exports ------------------------------------------------------------------------------------------


async def run_search(
    services: ServicesDep, access: WorkspaceAccess, query: str, filters: SearchFilters, limit: int
) -> list[SearchHit]:
    return await services.retriever.search(
        access.workspace, query, filters, limit=limit, access=Access(public_only=True)
    )


async def run_ask(services: ServicesDep, access: WorkspaceAccess, question: Question) -> Answer:
    asker = Asker(platform="api", user_id=f"apikey:{access.principal.key_id}")
    return await services.asker.ask(access.workspace, question, asker, Access(public_only=True))


@router.post(
    "/search/export", response_class=Response, responses=FILES, summary="Search results as CSV or PDF"
)
async def export_search(
    body: SearchRequest, access: WorkspaceDep, services: ServicesDep, format: Format = "csv"
) -> Response:
    hits = await run_search(services, access, body.query, body.filters, body.limit)
    return exports.search_file(access.workspace.name, body.query, hits, format).response()


@router.post("/ask/export", response_class=Response, responses=FILES, summary="An answer as CSV or PDF")
async def export_ask(
    body: AskRequest, access: WorkspaceDep, services: ServicesDep, format: Format = "csv"
) -> Response:
    question = Question(text=body.question, filters=body.filters, conversation_id=body.conversation_id)
    return exports.answer_file(await run_ask(services, access, question), format).response()


# --- saved queries ------------------------------------------------------------------------------------


class SavedQueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["search", "ask"] = "search"
    query: QueryText
    shared: bool = Field(default=False, description="visible to every key of the workspace")


class SavedQueryView(BaseModel):
    id: int
    name: str
    kind: str
    query: str
    shared: bool
    mine: bool
    created_at: UtcDatetime


class RunView(BaseModel):
    saved_query: SavedQueryView
    documents: list[str]
    answer: str | None
    diff: dict[str, Any]


def owner(access: WorkspaceAccess) -> str:
    return f"apikey:{access.principal.key_id}"


def query_view(row: Any, access: WorkspaceAccess) -> SavedQueryView:
    return SavedQueryView(id=row.id, name=row.name, kind=row.kind, query=row.query, shared=row.shared,
                          mine=row.owner == owner(access), created_at=row.created_at)  # fmt: skip


@router.post(
    "/saved-queries",
    status_code=status.HTTP_201_CREATED,
    response_model=SavedQueryView,
    summary="Save a query",
)
async def create_saved(
    body: SavedQueryRequest, access: WorkspaceDep, services: ServicesDep
) -> SavedQueryView:
    async with services.sessions.begin() as session:
        row = await saved_queries.save(
            session, access.workspace, owner(access), body.name, body.kind, body.query, body.shared
        )
    return query_view(row, access)


@router.get("/saved-queries", response_model=list[SavedQueryView], summary="My saved queries and shared ones")
async def list_saved(access: WorkspaceDep, services: ServicesDep) -> list[SavedQueryView]:
    async with services.sessions() as session:
        rows = await saved_queries.visible(session, access.workspace, owner(access))
    return [query_view(r, access) for r in rows]


@router.delete(
    "/saved-queries/{query_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete my saved query"
)
async def delete_saved(query_id: QueryId, access: WorkspaceDep, services: ServicesDep) -> None:
    async with services.sessions.begin() as session:
        await saved_queries.remove(session, access.workspace, owner(access), query_id)


@router.post(
    "/saved-queries/{query_id}/run", response_model=RunView, summary="Rerun; diff against the last run"
)
async def run_saved(query_id: QueryId, access: WorkspaceDep, services: ServicesDep) -> RunView:
    async with services.sessions() as session:
        row = await saved_queries.get(session, access.workspace, owner(access), query_id)
    started = time.perf_counter()
    answer_text: str | None = None
    if row.kind == "ask":
        answer = await run_ask(services, access, Question(text=row.query))
        documents = list(dict.fromkeys(c.document_id for c in answer.citations))
        answer_text = answer.answer
    else:
        hits = await run_search(services, access, row.query, SearchFilters(), 10)
        documents = list(dict.fromkeys(h.document_id for h in hits))
    results = {
        "documents": documents,
        "answer": answer_text,
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }
    async with services.sessions.begin() as session:
        fresh = await saved_queries.get(session, access.workspace, owner(access), query_id)
        changes = await saved_queries.record_run(session, fresh, results)
    return RunView(saved_query=query_view(row, access), documents=documents, answer=answer_text, diff=changes)
