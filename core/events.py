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


DomainEvent = BudgetExceeded


class EventBus(Protocol):
    async def publish(self, event: DomainEvent) -> None: ...


class RecordingBus:
    """Keeps what was published: the default when nothing is wired, and handy to inspect."""

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []

    async def publish(self, event: DomainEvent) -> None:
        self.events.append(event)
