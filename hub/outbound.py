"""Wires outbound webhooks: the delivery port for workers and the event sink that queues deliveries."""

from __future__ import annotations

from typing import Any

from hub.container import Services
from hub.queue import submit
from webhooks.outbound import Deliverer, Fanout, TargetGuard


def guard(services: Services) -> TargetGuard:
    return TargetGuard(allow_private=services.settings.webhooks.allow_private_targets)


def wire(services: Services) -> None:
    """Register the deliverer on the job ports and the fan-out on the event bus (idempotent)."""
    if isinstance(services.ports.deliver_webhook, Deliverer):
        return
    services.ports.deliver_webhook = Deliverer(
        services.sessions, services.fernet, guard(services), timeout_s=services.settings.webhooks.timeout_s
    )

    async def queue(workspace_id: int, params: dict[str, Any]) -> object:
        return await submit(services, workspace_id, "webhook", params)

    services.events.subscribe(Fanout(services.sessions, queue))
