"""Change alerts posted to Slack channels with ``chat.postMessage`` (Block Kit, with a text fallback)."""

from __future__ import annotations

from typing import Any

from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.web.async_client import AsyncWebClient

from bots.alerts import Alert
from core.tables import Watch


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def alert_message(alert: Alert) -> dict[str, Any]:
    title = escape(alert.title)
    linked = f"<{alert.url}|{title}>" if alert.url and alert.url.startswith("http") else f"*{title}*"
    verb = alert.headline()[len(alert.title) :]
    text = f":bell: {linked}{verb}\n{escape(alert.summary)[:2500]}"
    context = f"Watching *{escape(alert.watched)}* · `unwatch {escape(alert.watched)}` to stop"
    return {
        "text": f"{alert.headline()}: {alert.summary}"[:3000],
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context[:2000]}]},
        ],
        "unfurl_links": False,
    }


class SlackAlerts:
    """Single-team mode uses the client's bot token; multi-team mode finds the team's installed bot."""

    def __init__(self, client: AsyncWebClient, oauth: AsyncOAuthSettings | None = None) -> None:
        self._client = client
        self._oauth = oauth

    async def send(self, watch: Watch, alert: Alert) -> None:
        token = self._client.token
        if self._oauth is not None:
            bot = await self._oauth.installation_store.async_find_bot(
                enterprise_id=None, team_id=watch.team_id
            )
            if bot is None:
                return  # the app was uninstalled from that team
            token = bot.bot_token
        await self._client.chat_postMessage(channel=watch.channel_id, token=token, **alert_message(alert))
