"""Worker side of the chat bots: the arq jobs that answer acknowledged Slack and Teams requests.

The web process acknowledges (Slack's 3-second limit, Teams' 200) and queues the turn; a worker answers
it (embedding, retrieval, answer) and replies through the platform's API with the team's own token, so
answering never shares the web process's event loop or cores. Not retried: a rerun would post twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.turns import SlackTurn, SlackTurns
from core.errors import AuthError
from hub import slack, teams
from hub.container import Services
from hub.correlation import observed
from hub.settings import Settings

log = structlog.get_logger(__name__)


@dataclass
class SlackAnswers:
    """The turns' session carries every Slack call of this worker (Web API and response_url replies),
    so a turn reuses open connections instead of opening three."""

    settings: Settings
    services: Services
    turns: SlackTurns

    async def client_for(self, turn: SlackTurn) -> AsyncWebClient:
        """A Web API client with the bot token of the turn's team (multi-team: its stored install)."""
        if not self.settings.slack.client_id:
            return slack.web_client(self.settings, session=self.turns.session)
        bot = await slack.installation_store(self.services).async_find_bot(
            enterprise_id=turn.enterprise_id,
            team_id=turn.team_id,
            is_enterprise_install=turn.is_enterprise_install,
        )
        if bot is None or not bot.bot_token:
            raise AuthError(f"no Slack installation for team {turn.team_id}")
        return slack.web_client(self.settings, bot.bot_token, self.turns.session)

    async def run(self, data: dict[str, Any]) -> None:
        """Answer the turn; if that fails (a database outage, found in the fault drill), the asker is told
        so privately before the job fails (the answer's reply is its last step, so no apology follows it)."""
        turn = SlackTurn.from_dict(data)
        client: AsyncWebClient | None = None
        try:
            client = await self.client_for(turn)
            await self.turns.run(turn, client)
        except Exception:
            await self.turns.apologise(turn, client)
            raise


@dataclass
class ChatAnswers:
    slack: SlackAnswers | None
    teams: teams.TeamsParts | None


@contextlib.asynccontextmanager
async def open_chat_answers(settings: Settings, services: Services) -> AsyncIterator[ChatAnswers]:
    """What a worker needs to answer chat turns, for each platform that is configured."""
    timeout = aiohttp.ClientTimeout(total=30)  # what slack_sdk sets on the sessions it opens itself
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        teams.open_parts(settings, services) as parts,
    ):
        answers = None
        if settings.slack.signing_secret is not None:
            turns = SlackTurns(slack.commands(settings, services), session)
            answers = SlackAnswers(settings, services, turns)
        yield ChatAnswers(answers, parts)


@observed
async def answer_slack(ctx: dict[str, Any], turn: dict[str, Any]) -> None:
    chat: ChatAnswers = ctx["chat"]
    if chat.slack is None:
        log.warning("a Slack turn reached a worker without Slack settings: dropped")
        return
    await chat.slack.run(turn)


@observed
async def answer_teams(ctx: dict[str, Any], turn: dict[str, Any]) -> None:
    chat: ChatAnswers = ctx["chat"]
    if chat.teams is None:
        log.warning("a Teams turn reached a worker without Teams settings: dropped")
        return
    await chat.teams.run_turn(turn)
