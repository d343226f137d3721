"""Microsoft Graph change-notification subscriptions: create one per push-enabled drive source, and renew
it before it expires (Graph drops a subscription at its ``expirationDateTime``).

Subscriptions: ``POST /subscriptions`` (201 with ``id`` and ``expirationDateTime``), ``PATCH
/subscriptions/{id}`` with a new expiry (404 when Graph already dropped it: create a new one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from core.errors import AuthError, TransientError


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    expires_at: datetime


def graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def parse_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise TransientError("Graph returned a subscription without expirationDateTime")
    cleaned = value.rstrip("Z").split(".")[0]
    return datetime.fromisoformat(cleaned).replace(tzinfo=UTC)


@dataclass
class GraphSubscriptions:
    http: httpx.AsyncClient
    api_url: str = "https://graph.microsoft.com/v1.0"

    async def create(
        self, token: str, *, resource: str, notification_url: str, client_state: str, lifetime: timedelta
    ) -> Subscription:
        body = {
            "changeType": "updated",
            "notificationUrl": notification_url,
            "resource": resource,
            "expirationDateTime": graph_time(datetime.now(UTC) + lifetime),
            "clientState": client_state,
        }
        response = await self._call("POST", "/subscriptions", token, body)
        data = response.json()
        return Subscription(str(data["id"]), parse_time(data.get("expirationDateTime")))

    async def renew(self, token: str, subscription_id: str, lifetime: timedelta) -> Subscription | None:
        """The renewed subscription, or None when Graph no longer has it."""
        body = {"expirationDateTime": graph_time(datetime.now(UTC) + lifetime)}
        response = await self._call(
            "PATCH", f"/subscriptions/{subscription_id}", token, body, missing_ok=True
        )
        if response.status_code == 404:
            return None
        return Subscription(subscription_id, parse_time(response.json().get("expirationDateTime")))

    async def _call(
        self, method: str, path: str, token: str, body: dict[str, str], *, missing_ok: bool = False
    ) -> httpx.Response:
        try:
            response = await self.http.request(
                method,
                self.api_url.rstrip("/") + path,
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as exc:
            raise TransientError(f"Graph is unreachable: {exc}") from exc
        if response.status_code in (401, 403):
            raise AuthError(
                f"Graph refused the subscription call ({response.status_code}): {response.text[:200]}"
            )
        if response.status_code == 404 and missing_ok:
            return response
        if response.status_code >= 400:
            raise TransientError(f"Graph answered {response.status_code}: {response.text[:200]}")
        return response
