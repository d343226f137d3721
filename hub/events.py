"""The event bus hub wires into core: domain events are logged for admins and forwarded to sinks
(outbound webhooks). A failing sink is logged, never raised: publishing must not break the publisher."""

from __future__ import annotations

import dataclasses

import structlog

from core.events import DomainEvent, EventBus, RecordingBus


class LoggingEventBus(RecordingBus):
    """Logs every event at warning level (admins watch these), keeps them, and forwards them to sinks."""

    def __init__(self) -> None:
        super().__init__()
        self.sinks: list[EventBus] = []

    async def publish(self, event: DomainEvent) -> None:
        await super().publish(event)
        log = structlog.get_logger("switchboard.events")
        log.warning(type(event).__name__, **dataclasses.asdict(event))
        for sink in self.sinks:
            try:
                await sink.publish(event)
            except Exception:
                log.exception("event sink failed", event=type(event).__name__)
