"""Change alerts posted to Teams channels and chats: a proactive message to the conversation, at the
service URL the watch was created from, with the bot's outbound token."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from bots.alerts import Alert
from bots.teams import cards
from bots.teams.credentials import ClientCredentialsFactory
from core.tables import Watch

SCOPE = "https://api.botframework.com"


def alert_card(alert: Alert) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": alert.headline(), "weight": "Bolder", "wrap": True},
        {"type": "TextBlock", "text": alert.summary, "wrap": True},
        {"type": "TextBlock", "text": f"Watching {alert.watched}", "isSubtle": True, "wrap": True},
    ]
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": body,
    }
    if alert.url and alert.url.startswith("http"):
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open", "url": alert.url}]
    return card


class TeamsAlerts:
    def __init__(self, credentials: ClientCredentialsFactory, http: httpx.AsyncClient) -> None:
        self._credentials = credentials
        self._http = http

    async def send(self, watch: Watch, alert: Alert) -> None:
        if not watch.service_url:
            return
        token = await self._credentials.token(SCOPE)
        url = (
            f"{watch.service_url.rstrip('/')}/v3/conversations/{quote(watch.channel_id, safe='')}/activities"
        )
        activity = {
            "type": "message",
            "text": f"{alert.headline()}: {alert.summary}",
            "attachments": [{"contentType": cards.CONTENT_TYPE, "content": alert_card(alert)}],
        }
        response = await self._http.post(url, json=activity, headers={"Authorization": f"Bearer {token}"})
        response.raise_for_status()
