"""Change alerts: when a watched collection or document changes, each watching channel gets a short
summary (what changed, the title, a link, the difference). Rendering and posting are per platform
(``AlertSender``); choosing who is told is ``core.watches``, which re-checks each channel's mapping.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from core import watches
from core.db import Sessions
from core.events import DocumentChanged, DomainEvent
from core.ratelimit import Rate, RateLimiter
from core.tables import Watch

log = logging.getLogger(__name__)
VERBS = {"added": "added", "changed": "updated", "removed": "removed"}


@dataclass(frozen=True, slots=True)
class Alert:
    """A neutral alert; a sender renders it for its platform."""

    change: str  # added | changed | removed
    title: str
    url: str | None
    summary: str
    watched: str  # the label the channel watches (a collection name or a document title)

    def headline(self) -> str:
        return f"{self.title} was {VERBS.get(self.change, self.change)}"


class AlertSender(Protocol):
    async def send(self, watch: Watch, alert: Alert) -> None: ...


class ChangeAlerts:
    """An event-bus subscriber: DocumentChanged -> alerts to the channels that watch it.

    With a limiter, each channel gets at most ``rate`` alerts (a first sync of a big watched collection
    would otherwise post one message per document); the rest are dropped and logged.
    """

    def __init__(
        self,
        sessions: Sessions,
        senders: dict[str, AlertSender],
        *,
        limiter: RateLimiter | None = None,
        rate: Rate | None = None,
    ) -> None:
        self._sessions = sessions
        self._senders = senders
        self._limiter = limiter
        self._rate = rate or Rate(20, 60)

    async def __call__(self, event: DomainEvent) -> None:
        if not isinstance(event, DocumentChanged) or not self._senders:
            return
        async with self._sessions() as session:
            targets = await watches.watchers_of(session, event)
        for watch in targets:
            await self._send(watch, event)
        if event.change == "removed":
            async with self._sessions.begin() as session:
                await watches.forget_document(session, event.workspace_id, event.document_id)

    async def _send(self, watch: Watch, event: DocumentChanged) -> None:
        sender = self._senders.get(watch.platform)
        if sender is None or not await self._allowed(watch):
            return
        alert = Alert(event.change, event.title, event.url, event.summary, watch.label)
        try:
            await sender.send(watch, alert)
        except Exception:  # one channel that cannot be reached must not stop the others
            log.exception("change alert to %s %s failed", watch.platform, watch.channel_id)

    async def _allowed(self, watch: Watch) -> bool:
        if self._limiter is None:
            return True
        key = f"alerts:{watch.platform}:{watch.team_id}:{watch.channel_id}"
        if await self._limiter.hit(key, self._rate) is None:
            return True
        log.warning("change alert to %s %s dropped: over %s", watch.platform, watch.channel_id, self._rate)
        return False
