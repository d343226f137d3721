"""Domain events and the port that publishes them. ``hub`` wires the implementation (log, webhooks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class BudgetExceeded:
    """A workspace spent its monthly LLM budget; its answers are extractive until the month ends."""

    workspace: str
    month: str
    spent_usd: float
    budget_usd: float


@dataclass(frozen=True, slots=True)
class SyncCompleted:
    """A source finished a sync; ``counts`` tallies its items by status."""

    workspace: str
    source_id: int
    source: str
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class SyncFailed:
    """A sync attempt failed; ``retrying`` says whether another attempt is scheduled."""

    workspace: str
    source_id: int
    source: str
    error: str
    retrying: bool


@dataclass(frozen=True, slots=True)
class DocumentChanged:
    """A document was created, updated or deleted by a sync."""

    workspace: str
    source_id: int
    document: str
    change: str


@dataclass(frozen=True, slots=True)
class AnswerFlagged:
    """A user rated a delivered answer 👎: a content gap or a wrong answer to review.

    No question text or user id: events are logged, and receivers fetch details through the API."""

    workspace: str
    answer_token: str
    platform: str
    document_ids: tuple[str, ...]


DomainEvent = BudgetExceeded | SyncCompleted | SyncFailed | DocumentChanged | AnswerFlagged


class EventBus(Protocol):
    async def publish(self, event: DomainEvent) -> None: ...


class RecordingBus:
    """Keeps what was published: the default when nothing is wired, and handy to inspect."""

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []

    async def publish(self, event: DomainEvent) -> None:
        self.events.append(event)
