"""REST request and response bodies (visible in the OpenAPI document at /docs)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core.models import SearchFilters, SearchHit


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2000, description="what to look for")
    filters: SearchFilters = Field(default_factory=SearchFilters)
    limit: int = Field(default=10, ge=1, le=100)


class SearchResponse(BaseModel):
    workspace: str
    query: str
    hits: list[SearchHit]
    latency_ms: float


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=2000)
    filters: SearchFilters = Field(default_factory=SearchFilters)
    conversation_id: str | None = Field(default=None, max_length=512)


class Problem(BaseModel):
    detail: str


class SuggestResponse(BaseModel):
    workspace: str
    query: str
    suggestions: list[str]
