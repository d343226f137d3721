"""Wiring of the Slack bot: build the bolt app from Settings and Services, and mount it at /slack/*.

Single-team mode: ``SWITCHBOARD_SLACK__SIGNING_SECRET`` + ``__BOT_TOKEN``. Multi-team mode: the signing
secret + ``__CLIENT_ID`` + ``__CLIENT_SECRET`` (OAuth v2 at /slack/install, installs stored encrypted).
"""

from __future__ import annotations

import logging

import aiohttp
from fastapi import APIRouter, HTTPException, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bots.commands import ChatLimits, Commands
from bots.slack.app import BOT_SCOPES, SlackConfig, TokenAuthorize, build_app
from bots.slack.installations import RedisStateStore, SqlInstallationStore
from bots.slack.turns import Dispatch, InPlace, SlackTurn, SlackTurns
from core.errors import ConfigError, TransientError
from core.ratelimit import Rate
from hub.container import Services
from hub.queue import enqueue_chat_turn
from hub.settings import Settings

router = APIRouter(include_in_schema=False)
ANSWER_JOB = "answer_slack"  # the worker function (hub.chat_jobs) that answers a turn
log = logging.getLogger(__name__)


def web_client(
    settings: Settings, token: str | None = None, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """The Web API client: the configured base URL, and 429s retried after Retry-After. Its token is
    ``token``, else the single-team bot token (multi-team mode: none, bolt authorizes per team). With
    ``session`` its calls share that session's connections (without, each call opens its own)."""
    configured = settings.slack.bot_token
    if token is None and configured is not None and not settings.slack.client_id:
        token = configured.get_secret_value()
    return AsyncWebClient(
        token=token,
        base_url=settings.slack.api_url,
        session=session,
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
            AsyncServerErrorRetryHandler(max_retry_count=1),
        ],
    )


def oauth_settings(settings: Settings, services: Services) -> AsyncOAuthSettings | None:
    slack = settings.slack
    if not slack.client_id:
        return None
    if slack.client_secret is None or services.redis is None:
        raise ConfigError("multi-team Slack needs SWITCHBOARD_SLACK__CLIENT_SECRET and a Redis")
    return AsyncOAuthSettings(
        client_id=slack.client_id,
        client_secret=slack.client_secret.get_secret_value(),
        scopes=list(BOT_SCOPES),
        installation_store=installation_store(services),
        installation_store_bot_only=True,
        state_store=RedisStateStore(services.redis),
    )


def installation_store(services: Services) -> SqlInstallationStore:
    return SqlInstallationStore(services.sessions, services.fernet)


def dispatcher(settings: Settings, services: Services) -> Dispatch:
    """Where acknowledged turns go: a worker through the queue (``SWITCHBOARD_CHAT_ANSWERS=worker``, the
    default, when there is a Redis), else answered in this process. If the queue is down, in place."""
    in_place = InPlace(SlackTurns(commands(settings, services)), settings.slack.concurrent_answers)
    redis = services.redis
    if settings.chat_answers != "worker" or redis is None:
        return in_place

    async def to_worker(turn: SlackTurn, client: AsyncWebClient) -> None:
        try:
            await enqueue_chat_turn(redis, ANSWER_JOB, turn.to_dict())
        except TransientError as exc:
            log.warning("answering a Slack %s in the web process: %s", turn.kind, exc)
            await in_place(turn, client)

    return to_worker


def commands(settings: Settings, services: Services) -> Commands:
    slack = settings.slack
    limits = ChatLimits(per_user=Rate.parse(slack.user_rate), per_channel=Rate.parse(slack.channel_rate))
    return Commands(
        services.sessions,
        services.asker,
        limiter=services.limiter,
        limits=limits,
        events=services.events,
        command=slack.command,
    )


async def open_handler(settings: Settings, services: Services) -> AsyncSlackRequestHandler | None:
    """The bolt app behind /slack/*, None when Slack is not configured (no signing secret).

    In single-team mode the bot token is checked once here (auth.test); a failure is logged and the
    check is retried on the first request.
    """
    slack = settings.slack
    if slack.signing_secret is None:
        return None
    if slack.bot_token is None and not slack.client_id:
        raise ConfigError(
            "Slack needs SWITCHBOARD_SLACK__BOT_TOKEN (one team) or __CLIENT_ID (OAuth install)"
        )
    client, oauth = web_client(settings), oauth_settings(settings, services)
    authorize = TokenAuthorize(client) if oauth is None else None
    config = SlackConfig(
        signing_secret=slack.signing_secret.get_secret_value(),
        client=client,
        dispatch=dispatcher(settings, services),
        command=slack.command,
        oauth=oauth,
        authorize=authorize,
        events=services.events,
    )
    handler = AsyncSlackRequestHandler(build_app(config))
    if authorize is not None:
        try:
            await authorize.warm()
        except (SlackApiError, aiohttp.ClientError, OSError) as exc:
            log.warning("Slack auth.test failed at start-up: %s", exc)
    return handler


def handler_of(request: Request) -> AsyncSlackRequestHandler:
    handler: AsyncSlackRequestHandler | None = getattr(request.app.state, "slack", None)
    if handler is None:
        raise HTTPException(404, detail="Slack is not configured (set SWITCHBOARD_SLACK__SIGNING_SECRET)")
    return handler


@router.post("/slack/events")
async def events(request: Request) -> Response:
    """Events API, slash commands and interactivity on one URL (bolt verifies the signature: 401)."""
    return await handler_of(request).handle(request)


@router.get("/slack/install")
async def install(request: Request) -> Response:
    return await handler_of(request).handle(request)


@router.get("/slack/oauth_redirect")
async def oauth_redirect(request: Request) -> Response:
    return await handler_of(request).handle(request)
