"""REST routes under /api/v1/workspaces/{workspace}/...: every call authenticated, scoped to its workspace."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request

from core import audit
from core.models import Answer, Asker, Question
from core.retrieval import Access
from hub.api.schemas import (
    AskRequest,
    InvalidProblem,
    Problem,
    SearchRequest,
    SearchResponse,
    SuggestResponse,
)
from hub.deps import ServicesDep, WorkspaceDep

PROBLEMS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "missing or invalid API key"},
    404: {"model": Problem, "description": "unknown workspace, or one this key does not belong to"},
    422: {"model": InvalidProblem, "description": "invalid input: a message, or the fields that failed"},
    429: {"model": Problem, "description": "rate limit reached; retry after the Retry-After seconds"},
}
BUSY: dict[int | str, dict[str, object]] = {
    503: {"model": Problem, "description": "too many questions at once in this process (see Retry-After)"}
}

router = APIRouter(prefix="/api/v1/workspaces/{workspace}", tags=["retrieval"], responses=PROBLEMS)


def search_audit(request: Request) -> audit.BatchedAuditLog:
    batched: audit.BatchedAuditLog = request.app.state.search_audit
    return batched


@router.post("/search", response_model=SearchResponse, summary="Hybrid search in one workspace")
async def search(
    body: SearchRequest, access: WorkspaceDep, services: ServicesDep, request: Request
) -> SearchResponse:
    started = time.perf_counter()
    hits = await services.retriever.search(
        access.workspace, body.query, body.filters, limit=body.limit, access=Access(public_only=True)
    )
    # Audited in a batch shortly after: the write is off this request's latency and the next one's.
    search_audit(request).add(
        audit.Entry(
            actor=audit.asker_actor("api", access.principal.subject),
            action="search",
            workspace=access.workspace.name,
            target=body.query,
            channel="api",
            document_ids=list(dict.fromkeys(hit.document_id for hit in hits)),
        )
    )
    return SearchResponse(
        workspace=access.workspace.name,
        query=body.query,
        hits=hits,
        latency_ms=round((time.perf_counter() - started) * 1000.0, 2),
    )


@router.post(
    "/ask",
    response_model=Answer,
    summary="Answer a question with citations from one workspace",
    responses=BUSY,
)
async def ask(body: AskRequest, access: WorkspaceDep, services: ServicesDep, request: Request) -> Answer:
    question = Question(text=body.question, filters=body.filters, conversation_id=body.conversation_id)
    asker = Asker(platform="api", user_id=access.principal.subject)
    async with request.app.state.admission.slot():
        answer = await services.asker.ask(access.workspace, question, asker, Access(public_only=True))
    services.metrics.record_answer(answer.mode, answer.abstained)
    return answer


@router.get("/suggest", response_model=SuggestResponse, summary="Autocomplete a question from this workspace")
async def suggest(
    q: Annotated[str, Query(min_length=1, max_length=200, description="what the user has typed so far")],
    access: WorkspaceDep,
    services: ServicesDep,
) -> SuggestResponse:
    suggestions = await services.suggester.suggest(access.workspace, q)
    return SuggestResponse(workspace=access.workspace.name, query=q, suggestions=suggestions)
