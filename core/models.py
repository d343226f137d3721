"""Domain value objects shared by every entry point (REST, CLI, bots)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from core.errors import InvalidInput

SLUG = re.compile(r"^[a-z0-9-]{1,63}$")
ROLES = ("viewer", "editor", "admin")
Role = Literal["viewer", "editor", "admin"]


def check_slug(name: str, what: str = "workspace") -> str:
    """Workspace and collection names are slugs; the message says how to fix a bad one."""
    if not SLUG.fullmatch(name):
        raise InvalidInput(
            f"invalid {what} name {name!r}: use 1-63 characters of lowercase letters, digits and '-'"
        )
    return name


class SearchFilters(BaseModel):
    """Narrow a search within one workspace. Every field is optional; empty lists mean no filter."""

    model_config = ConfigDict(extra="forbid")

    collections: list[str] = Field(default_factory=list, max_length=50)
    doc_types: list[str] = Field(default_factory=list, max_length=10)
    sources: list[str] = Field(default_factory=list, max_length=50)
    updated_after: datetime | None = None
    updated_before: datetime | None = None

    @property
    def narrows(self) -> bool:
        """Whether any filter is set."""
        return bool(
            self.collections or self.doc_types or self.sources or self.updated_after or self.updated_before
        )

    def cache_key(self) -> str:
        return self.model_dump_json()


class Asker(BaseModel):
    """Who asked, and from where. Drives isolation, ACLs and audit."""

    platform: str = "api"  # "slack", "teams", "api", "cli": opaque to core
    team_id: str | None = None
    channel_id: str | None = None
    user_id: str | None = None
    email: str | None = None


class SearchHit(BaseModel):
    chunk_id: int
    document_id: str
    title: str
    url: str | None
    source: str
    collection: str
    doc_type: str
    section: str
    text: str
    start: int
    end: int
    score: float
    keyword_score: float | None = None
    vector_score: float | None = None


class Citation(BaseModel):
    n: int
    document_id: str
    title: str
    url: str | None
    source: str
    quote: str  # exactly text[start:end] of the document's text
    start: int
    end: int
    score: float


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class Answer(BaseModel):
    workspace: str
    question: str
    answer: str
    abstained: bool
    confidence: float = Field(ge=0.0, le=1.0)
    mode: Literal["extractive", "llm"]
    citations: list[Citation]
    related_questions: list[str] = Field(default_factory=list)
    model: str
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float = 0.0


def not_blank(value: str) -> str:
    """The text without surrounding whitespace; blank text is refused."""
    stripped = value.strip()
    if not stripped:
        raise ValueError("must not be blank")
    return stripped


# A question or search query, from any entry point: what a request body may carry and what core accepts.
QueryText = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(not_blank)]


class Question(BaseModel):
    """A neutral question: what every adapter turns a platform event or request into."""

    model_config = ConfigDict(extra="forbid")

    text: QueryText
    filters: SearchFilters = Field(default_factory=SearchFilters)
    conversation_id: str | None = Field(default=None, max_length=512)
