"""REST request and response bodies (visible in the OpenAPI document at /docs)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from core.models import QueryText, SearchFilters, SearchHit
from core.tables import as_utc


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: QueryText = Field(description="what to look for")
    filters: SearchFilters = Field(default_factory=SearchFilters)
    limit: int = Field(default=10, ge=1, le=100)


class SearchResponse(BaseModel):
    workspace: str
    query: str
    hits: list[SearchHit]
    latency_ms: float


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: QueryText
    filters: SearchFilters = Field(default_factory=SearchFilters)
    conversation_id: str | None = Field(default=None, max_length=512)


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class Problem(BaseModel):
    detail: str


class InvalidProblem(BaseModel):
    """422: a message (a domain check failed) or the list of fields that failed validation."""

    detail: str | list[dict[str, Any]]


class SuggestResponse(BaseModel):
    workspace: str
    query: str
    suggestions: list[str]
