"""The slack-bolt AsyncApp: the slash command, mentions, DMs and buttons, all through ``bots.commands``.

Every listener acknowledges first (bolt sends the HTTP response at ``ack()``), then hands the request on
as a ``SlackTurn`` to a ``Dispatch`` (``bots.slack.turns``): in hub, an arq job answered by a worker
process, so the process that acknowledges never computes answers and Slack's 3-second limit never waits.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bots.slack import blocks
from bots.slack.turns import Body, Dispatch, SlackTurn, TurnKind
from core.events import ChannelMessagePosted, EventBus

log = logging.getLogger(__name__)
BOT_SCOPES = (
    "app_mentions:read",
    "channels:history",  # message events in channels (push syncs of Slack-history sources)
    "channels:read",
    "chat:write",
    "commands",
    "groups:history",
    "groups:read",
    "im:history",
    "im:read",
    "mpim:read",
    "users:read",
    "users:read.email",
)


class TokenAuthorize:
    """Single-team mode: one ``auth.test`` for the bot token (single flight, also at start-up), then cached.

    Bolt's own single-team authorization calls auth.test from every request that arrives before the
    first answer comes back: a burst at start-up would wait on dozens of calls.
    """

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._auth_test: AsyncSlackResponse | None = None
        self._lock = asyncio.Lock()

    async def warm(self) -> AuthorizeResult:
        async with self._lock:
            if self._auth_test is None:
                self._auth_test = await self._client.auth_test()
        return AuthorizeResult.from_auth_test_response(
            bot_token=self._client.token, auth_test_response=self._auth_test
        )

    def function(self) -> Callable[[], Awaitable[AuthorizeResult]]:
        """A plain function for bolt's ``authorize=`` (bolt passes arguments by the names it declares)."""

        async def authorize() -> AuthorizeResult:
            return await self.warm()

        return authorize


@dataclass(frozen=True)
class SlackConfig:
    signing_secret: str
    client: AsyncWebClient  # base_url: the Slack Web API (or a fake); with the bot token in single-team mode
    dispatch: Dispatch  # where acknowledged turns go (hub: an arq job; or answered in place)
    command: str = "/ask"
    oauth: AsyncOAuthSettings | None = None  # multi-team mode: bolt's OAuth v2 flow and installation store
    authorize: TokenAuthorize | None = None  # single-team mode
    events: EventBus | None = None  # channel messages are published here (chat-history sources sync)


def build_app(config: SlackConfig) -> AsyncApp:
    app = AsyncApp(
        signing_secret=config.signing_secret,
        client=config.client,
        authorize=config.authorize.function() if config.authorize else None,
        oauth_settings=config.oauth,
        logger=log,
    )
    SlackListeners(config.dispatch, config.events).register(app, config.command)
    return app


class SlackListeners:
    """Acknowledge, then hand the turn on: nothing here computes an answer."""

    def __init__(self, dispatch: Dispatch, events: EventBus | None = None) -> None:
        self.dispatch = dispatch
        self.events = events

    def register(self, app: AsyncApp, command: str) -> None:
        app.command(command)(self.on_command)
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.action(blocks.SHARE)(self.on_share)
        app.action(re.compile(f"^({blocks.FEEDBACK_UP}|{blocks.FEEDBACK_DOWN})$"))(self.on_feedback)
        app.action(re.compile(rf"^{blocks.RELATED}_\d+$"))(self.on_related)
        app.error(self.on_error)

    async def on_command(
        self, ack: AsyncAck, body: Body, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        await ack()
        await self._hand_on("command", body, context, client)

    async def on_mention(self, body: Body, context: AsyncBoltContext, client: AsyncWebClient) -> None:
        await self._hand_on("mention", body, context, client)

    async def on_message(
        self, body: Body, event: Body, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        """Direct messages are answered; in channels the bot answers mentions, and a person's message
        (or edit, or deletion) is published so a chat-history source of that channel can sync."""
        if event.get("channel_type") in ("channel", "group"):
            await self._channel_activity(body, event)
            return
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        await self._hand_on("message", body, context, client)

    async def _channel_activity(self, body: Body, event: Body) -> None:
        bot = event.get("bot_id") or event.get("subtype") == "bot_message"
        team, channel = body.get("team_id") or event.get("team"), event.get("channel")
        if bot or self.events is None or not isinstance(team, str) or not isinstance(channel, str):
            return  # never our own alerts (or any bot's): that would loop alert -> sync -> alert
        await self.events.publish(ChannelMessagePosted("slack", team, channel))

    async def on_share(
        self, ack: AsyncAck, body: Body, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        await ack()
        await self._hand_on("share", body, context, client)

    async def on_feedback(
        self, ack: AsyncAck, body: Body, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        await ack()
        await self._hand_on("feedback", body, context, client)

    async def on_related(
        self, ack: AsyncAck, body: Body, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        await ack()
        await self._hand_on("related", body, context, client)

    async def on_error(self, error: Exception, body: Body) -> None:
        log.error("slack listener failed (%s): %r", body.get("type"), error, exc_info=error)

    async def _hand_on(
        self, kind: TurnKind, body: Body, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        turn = SlackTurn(
            kind=kind,
            body=body,
            team_id=context.team_id,
            enterprise_id=context.enterprise_id,
            is_enterprise_install=bool(context.is_enterprise_install),
        )
        await self.dispatch(turn, client)
