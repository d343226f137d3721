"""The event bus hub wires into core: domain events are logged for admins (outbound webhooks come later)."""

from __future__ import annotations

import dataclasses

import structlog

from core.events import DomainEvent, RecordingBus


class LoggingEventBus(RecordingBus):
    """Logs every event at warning level (admins watch these), and keeps them for inspection."""

    async def publish(self, event: DomainEvent) -> None:
        await super().publish(event)
        structlog.get_logger("switchboard.events").warning(type(event).__name__, **dataclasses.asdict(event))
