"""Domain events and the port that publishes them. ``hub`` wires the implementation (log, alerts, syncs)."""

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


DomainEvent = BudgetExceeded | DocumentChanged | ChannelMessagePosted


class EventBus(Protocol):
    async def publish(self, event: DomainEvent) -> None: ...


class RecordingBus:
    """Keeps what was published: the default when nothing is wired, and handy to inspect."""

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []

    async def publish(self, event: DomainEvent) -> None:
        self.events.append(event)
