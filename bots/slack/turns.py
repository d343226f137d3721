"""The work after a Slack acknowledgement: one ``SlackTurn`` (what was asked, by whom, on which team)
answered and delivered (response_url, chat.postMessage, chat.postEphemeral).

A turn is plain data, so it can cross a process boundary: the web process acknowledges and hands the
turn to a ``Dispatch`` (hub wires it to an arq job that a worker runs; with no queue it runs in place),
and the answering (embedding, retrieval, extractive answer) never shares the event loop or the cores
of the process that acknowledges the next request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bots.commands import CommandRequest, Commands, Reply, refusal
from bots.identity import ChatOrigin
from bots.slack import blocks, origin
from core.errors import AccessDenied, InvalidInput

log = logging.getLogger(__name__)

Body = dict[str, Any]
UNAVAILABLE = "Sorry, I can't answer right now: a service I depend on is down. Please try again in a minute."
TurnKind = Literal["command", "mention", "message", "share", "feedback", "related"]
KINDS: frozenset[str] = frozenset(get_args(TurnKind))


@dataclass(frozen=True, slots=True)
class SlackTurn:
    """One acknowledged request to answer: the listener kind, the request body as Slack sent it (signature
    already verified), and the team (or enterprise) whose bot token must send the reply."""

    kind: TurnKind
    body: Body
    team_id: str | None = None
    enterprise_id: str | None = None
    is_enterprise_install: bool = False

    def to_dict(self) -> Body:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Body) -> SlackTurn:
        kind, body = data.get("kind"), data.get("body")
        if kind not in KINDS or not isinstance(body, dict):
            raise InvalidInput(f"not a Slack turn: kind={kind!r}")
        return cls(
            kind=kind,
            body=body,
            team_id=data.get("team_id"),
            enterprise_id=data.get("enterprise_id"),
            is_enterprise_install=bool(data.get("is_enterprise_install")),
        )

    @property
    def action(self) -> Body:
        """The clicked element (``block_actions`` carry one)."""
        actions = self.body.get("actions") or [{}]
        first = actions[0]
        return first if isinstance(first, dict) else {}

    @property
    def event(self) -> Body:
        event = self.body.get("event")
        return event if isinstance(event, dict) else {}


Dispatch = Callable[[SlackTurn, AsyncWebClient], Awaitable[None]]


async def guarded(
    who: ChatOrigin, client: AsyncWebClient, act: Callable[[ChatOrigin], Awaitable[Reply]]
) -> Reply:
    """Complete the origin from the Web API (shared channel, email), then act; a refusal on denial."""
    try:
        checked = await origin.checked(who, client)
    except AccessDenied as denied:
        return refusal(denied)
    return await act(checked)


Respond = Callable[..., Awaitable[Any]]


def responder(response_url: str | None, session: aiohttp.ClientSession | None) -> Respond:
    """Replies to a command's or action's response_url, like Bolt's ``respond`` (same arguments), but
    through ``session`` when given: Bolt opens a new HTTP session and connection for every reply."""

    async def respond(**message: Any) -> None:
        if not response_url:
            raise ValueError("this turn has no response_url to reply to")
        await AsyncWebhookClient(url=response_url, session=session).send(**message)

    return respond


class SlackTurns:
    """Answers turns and delivers the replies with a Web API client that holds the team's bot token.
    ``session``, when given, carries the response_url replies (a worker keeps one for its life)."""

    def __init__(self, commands: Commands, session: aiohttp.ClientSession | None = None) -> None:
        self.commands = commands
        self.session = session

    async def run(self, turn: SlackTurn, client: AsyncWebClient) -> None:
        respond = responder(turn.body.get("response_url"), self.session)
        if turn.kind == "command":
            await self._command(turn.body, client, respond)
        elif turn.kind in ("mention", "message"):
            who = origin.from_event(turn.body, turn.event, thread_on_root=turn.kind == "mention")
            await self._converse(who, turn.event, client)
        elif turn.kind == "share":
            await self._share(turn, client, respond)
        elif turn.kind == "feedback":
            await self._feedback(turn, client, respond)
        else:
            await self._related(turn, client, respond)

    async def apologise(self, turn: SlackTurn, client: AsyncWebClient | None) -> None:
        """Best effort: tell the asker, privately, that this turn could not be answered."""
        try:
            if turn.body.get("response_url"):
                respond = responder(turn.body["response_url"], self.session)
                await respond(response_type="ephemeral", replace_original=False, text=UNAVAILABLE)
            elif client is not None and turn.kind in ("mention", "message"):
                who = origin.from_event(turn.body, turn.event, thread_on_root=turn.kind == "mention")
                await client.chat_postEphemeral(
                    channel=who.channel_id, user=who.user_id, thread_ts=who.thread_id, text=UNAVAILABLE
                )
        except Exception:
            log.warning("could not tell the asker of a failed Slack %s", turn.kind, exc_info=True)

    async def _command(self, body: Body, client: AsyncWebClient, respond: Respond) -> None:
        text = str(body.get("text") or "")
        reply = await guarded(origin.from_command(body), client, lambda who: self._run(who, text))
        await respond(response_type="ephemeral", **blocks.reply_message(reply))

    async def _share(self, turn: SlackTurn, client: AsyncWebClient, respond: Respond) -> None:
        token = str(turn.action.get("value", ""))
        who = origin.from_action(turn.body)
        reply = await guarded(who, client, lambda checked: self.commands.share(checked, token))
        if reply.answer is None:
            await respond(response_type="ephemeral", replace_original=False, **blocks.reply_message(reply))
            return
        message = blocks.reply_message(reply, shared=True, by_user=who.user_id)
        await client.chat_postMessage(channel=who.channel_id, **message)
        await respond(response_type="ephemeral", replace_original=False, text="Shared with the channel.")

    async def _feedback(self, turn: SlackTurn, client: AsyncWebClient, respond: Respond) -> None:
        rating = 1 if turn.action.get("action_id") == blocks.FEEDBACK_UP else -1
        token = str(turn.action.get("value", ""))
        who = origin.from_action(turn.body)
        reply = await guarded(who, client, lambda checked: self.commands.feedback(checked, token, rating))
        await respond(response_type="ephemeral", replace_original=False, **blocks.reply_message(reply))

    async def _related(self, turn: SlackTurn, client: AsyncWebClient, respond: Respond) -> None:
        """A related-question button asks that question, where the answer it came with was shown."""
        question = str(turn.action.get("value", ""))
        who = origin.from_action(turn.body)
        reply = await guarded(who, client, lambda checked: self.commands.ask(checked, question))
        container = turn.body.get("container") or {}
        if container.get("is_ephemeral") or reply.kind != "answer":
            await respond(response_type="ephemeral", replace_original=False, **blocks.reply_message(reply))
            return
        message = turn.body.get("message") or {}
        thread = message.get("thread_ts") or message.get("ts")
        await client.chat_postMessage(channel=who.channel_id, thread_ts=thread, **blocks.reply_message(reply))

    async def _run(self, who: ChatOrigin, text: str) -> Reply:
        return await self.commands.run(CommandRequest(who, text))

    async def _converse(self, who: ChatOrigin, event: Body, client: AsyncWebClient) -> None:
        """A mention or DM: answers go in the thread; refusals only to the asker (ephemeral)."""
        text = origin.question_text(str(event.get("text") or ""))
        reply = await guarded(who, client, lambda checked: self._run(checked, text))
        message = blocks.reply_message(reply)
        if reply.kind == "refusal" and who.kind != "direct":
            await client.chat_postEphemeral(
                channel=who.channel_id, user=who.user_id, thread_ts=who.thread_id, **message
            )
            return
        await client.chat_postMessage(channel=who.channel_id, thread_ts=who.thread_id, **message)


class InPlace:
    """The ``Dispatch`` with no queue: answer in this process, a few turns at a time (the rest wait)."""

    def __init__(self, turns: SlackTurns, concurrent: int = 2) -> None:
        self.turns = turns
        self.slots = asyncio.Semaphore(concurrent)

    async def __call__(self, turn: SlackTurn, client: AsyncWebClient) -> None:
        """Never raises: the turn is already acknowledged, and an exception escaping a Bolt listener after
        its ack can make Bolt answer Slack 404 three seconds later (found in the Redis-restart drill)."""
        async with self.slots:
            try:
                await self.turns.run(turn, client)
            except Exception:
                log.exception("a Slack %s could not be answered", turn.kind)
                await self.turns.apologise(turn, client)
