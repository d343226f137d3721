"""The slack-bolt AsyncApp: the slash command, mentions, DMs and buttons, all through ``bots.commands``.

Every listener acknowledges first; bolt runs the listener body in a background task after the ack, so
Slack's 3-second limit never waits for an answer. The work after the ack holds one of a few answer slots:
a burst of questions queues for a slot instead of crowding the event loop that acknowledges the next ones.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bots.commands import CommandRequest, Commands, Reply, refusal
from bots.identity import ChatOrigin
from bots.slack import blocks, origin
from core.errors import AccessDenied
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
Body = dict[str, Any]


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
    command: str = "/ask"
    oauth: AsyncOAuthSettings | None = None  # multi-team mode: bolt's OAuth v2 flow and installation store
    concurrent_answers: int = 2  # answers computed at once per process; the rest wait (after their ack)
    authorize: TokenAuthorize | None = None  # single-team mode
    events: EventBus | None = None  # channel messages are published here (chat-history sources sync)


def build_app(config: SlackConfig, commands: Commands) -> AsyncApp:
    app = AsyncApp(
        signing_secret=config.signing_secret,
        client=config.client,
        authorize=config.authorize.function() if config.authorize else None,
        oauth_settings=config.oauth,
        logger=log,
    )
    SlackBot(commands, config.concurrent_answers, config.events).register(app, config.command)
    return app


async def guarded(
    who: ChatOrigin, client: AsyncWebClient, act: Callable[[ChatOrigin], Awaitable[Reply]]
) -> Reply:
    """Complete the origin from the Web API (shared channel, email), then act; a refusal on denial."""
    try:
        checked = await origin.checked(who, client)
    except AccessDenied as denied:
        return refusal(denied)
    return await act(checked)


class SlackBot:
    def __init__(
        self, commands: Commands, concurrent_answers: int = 2, events: EventBus | None = None
    ) -> None:
        self.commands = commands
        self.slots = asyncio.Semaphore(concurrent_answers)
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
        self, ack: AsyncAck, body: Body, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        text = str(body.get("text") or "")
        async with self.slots:
            reply = await guarded(origin.from_command(body), client, lambda who: self._run(who, text))
            await respond(response_type="ephemeral", **blocks.reply_message(reply))

    async def on_mention(self, body: Body, event: Body, client: AsyncWebClient) -> None:
        await self._converse(origin.from_event(body, event, thread_on_root=True), event, client)

    async def on_message(self, body: Body, event: Body, client: AsyncWebClient) -> None:
        """Direct messages are answered; in channels the bot answers mentions, and a person's message
        (or edit, or deletion) is published so a chat-history source of that channel can sync."""
        if event.get("channel_type") in ("channel", "group"):
            await self._channel_activity(body, event)
            return
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        await self._converse(origin.from_event(body, event, thread_on_root=False), event, client)

    async def _channel_activity(self, body: Body, event: Body) -> None:
        bot = event.get("bot_id") or event.get("subtype") == "bot_message"
        team, channel = body.get("team_id") or event.get("team"), event.get("channel")
        if bot or self.events is None or not isinstance(team, str) or not isinstance(channel, str):
            return  # never our own alerts (or any bot's): that would loop alert -> sync -> alert
        await self.events.publish(ChannelMessagePosted("slack", team, channel))

    async def on_share(
        self, ack: AsyncAck, body: Body, action: Body, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        token = str(action.get("value", ""))
        who = origin.from_action(body)
        async with self.slots:
            reply = await guarded(who, client, lambda checked: self.commands.share(checked, token))
        if reply.answer is None:
            await respond(response_type="ephemeral", replace_original=False, **blocks.reply_message(reply))
            return
        message = blocks.reply_message(reply, shared=True, by_user=who.user_id)
        await client.chat_postMessage(channel=who.channel_id, **message)
        await respond(response_type="ephemeral", replace_original=False, text="Shared with the channel.")

    async def on_feedback(
        self, ack: AsyncAck, body: Body, action: Body, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        rating = 1 if action.get("action_id") == blocks.FEEDBACK_UP else -1
        token = str(action.get("value", ""))
        who = origin.from_action(body)
        async with self.slots:
            reply = await guarded(who, client, lambda checked: self.commands.feedback(checked, token, rating))
        await respond(response_type="ephemeral", replace_original=False, **blocks.reply_message(reply))

    async def on_related(
        self, ack: AsyncAck, body: Body, action: Body, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        """A related-question button asks that question, where the answer it came with was shown."""
        await ack()
        question = str(action.get("value", ""))
        who = origin.from_action(body)
        async with self.slots:
            reply = await guarded(who, client, lambda checked: self.commands.ask(checked, question))
        container = body.get("container") or {}
        if container.get("is_ephemeral") or reply.kind != "answer":
            await respond(response_type="ephemeral", replace_original=False, **blocks.reply_message(reply))
            return
        message = body.get("message") or {}
        thread = message.get("thread_ts") or message.get("ts")
        await client.chat_postMessage(channel=who.channel_id, thread_ts=thread, **blocks.reply_message(reply))

    async def on_error(self, error: Exception, body: Body) -> None:
        log.error("slack listener failed (%s): %r", body.get("type"), error, exc_info=error)

    async def _run(self, who: ChatOrigin, text: str) -> Reply:
        return await self.commands.run(CommandRequest(who, text))

    async def _converse(self, who: ChatOrigin, event: Body, client: AsyncWebClient) -> None:
        """A mention or DM: answers go in the thread; refusals only to the asker (ephemeral)."""
        text = origin.question_text(str(event.get("text") or ""))
        async with self.slots:
            reply = await guarded(who, client, lambda checked: self._run(checked, text))
        message = blocks.reply_message(reply)
        if reply.kind == "refusal" and who.kind != "direct":
            await client.chat_postEphemeral(
                channel=who.channel_id, user=who.user_id, thread_ts=who.thread_id, **message
            )
            return
        await client.chat_postMessage(channel=who.channel_id, thread_ts=who.thread_id, **message)
