"""The event bus hub wires into core: every domain event is logged, kept (the last few, to inspect) and
handed to the subscribers hub registered (chat change alerts, syncs of chat-history sources, outbound
webhooks).

A subscriber that fails is logged and never fails the publisher: an alert that cannot be posted must
not fail the sync that found the change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

import structlog

from core.events import BudgetExceeded, DomainEvent, RecordingBus, SyncFailed

Subscriber = Callable[[DomainEvent], Awaitable[None]]
KEEP = 200  # events kept for inspection; a long-running worker publishes many


class LoggingEventBus(RecordingBus):
    """Logs every event (budget events at warning level: admins watch these) and dispatches it."""

    def __init__(self) -> None:
        super().__init__()
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    async def publish(self, event: DomainEvent) -> None:
        await super().publish(event)
        del self.events[:-KEEP]
        log = structlog.get_logger("switchboard.events")
        level = (
            log.warning if isinstance(event, BudgetExceeded | SyncFailed) else log.debug
        )  # syncs publish many
        level(type(event).__name__, **dataclasses.asdict(event))
        for subscriber in self._subscribers:
            try:
                await subscriber(event)
            except Exception:
                log.exception("event subscriber failed", event=type(event).__name__)
