"""Domain events and the port that publishes them.

``hub`` wires the implementation: the log, chat change alerts, chat-history syncs, outbound webhooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Change = Literal["added", "changed", "removed"]


@dataclass(frozen=True, slots=True)
class BudgetExceeded:
    """A workspace spent its monthly LLM budget; its answers are extractive until the month ends."""

    workspace: str
    month: str
    spent_usd: float
    budget_usd: float


@dataclass(frozen=True, slots=True)
class DocumentChanged:
    """A sync or an ingest added, changed or removed one document (published once it is searchable)."""

    workspace_id: int
    collection_id: int
    document_id: int
    external_id: str
    title: str
    url: str | None
    change: Change
    summary: str  # what differs, in a line or two ("+3 lines, -1 line: ...")
    public: bool  # False when the document has an ACL: it is never announced to a whole channel


@dataclass(frozen=True, slots=True)
class ChannelMessagePosted:
    """Someone posted in a chat channel (a hint that a chat-history source of that channel changed)."""

    platform: str
    team_id: str
    channel_id: str


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
class AnswerFlagged:
    """A user rated a delivered answer 👎: a content gap or a wrong answer to review.

    No question text or user id: events are logged, and receivers fetch details through the API."""

    workspace: str
    answer_token: str
    platform: str
    document_ids: tuple[str, ...]


DomainEvent = (
    BudgetExceeded | DocumentChanged | ChannelMessagePosted | SyncCompleted | SyncFailed | AnswerFlagged
)


class EventBus(Protocol):
    async def publish(self, event: DomainEvent) -> None: ...


class RecordingBus:
    """Keeps what was published: the default when nothing is wired, and handy to inspect."""

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []

    async def publish(self, event: DomainEvent) -> None:
        self.events.append(event)
