"""Wiring of the Teams bot: ``CloudAdapter`` + our authentication from Settings and Services, and the
``POST /api/messages`` endpoint that bridges a Starlette request to ``adapter.process_activity``.

Teams is on when ``SWITCHBOARD_TEAMS__APP_ID`` is set; then every request must carry a valid Bot
Framework JWT (401 otherwise). Without an app id the endpoint answers 404: an unauthenticated endpoint
would let anyone claim any channel and read its answers at a serviceUrl of their choosing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from botbuilder.core import InvokeResponse
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity
from botframework.connector.auth import AuthenticateRequestResult
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from msrest.exceptions import (  # type: ignore[attr-defined]
    ClientRequestError,
    DeserializationError,
    HttpOperationError,
)

from bots.commands import ChatLimits, Commands
from bots.teams.authentication import TeamsAuthentication
from bots.teams.bot import TeamsBot, TeamsPolicy
from bots.teams.credentials import ClientCredentialsFactory, token_url_for
from bots.teams.tokens import PUBLIC_OPENID_METADATA, KeySet, TokenValidator
from core.errors import AuthError, ConfigError, TransientError
from core.ratelimit import Rate
from hub.container import Services
from hub.queue import enqueue_chat_turn
from hub.settings import Settings

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
MAX_BODY = 256 * 1024


TeamsDispatch = Callable[[dict[str, Any]], Awaitable[None]]
ANSWER_JOB = "answer_teams"  # the worker function (hub.chat_jobs) that runs a message turn


@dataclass
class TeamsParts:
    """What both the endpoint (web) and a worker need to run a turn and reply to the Bot Connector."""

    adapter: CloudAdapter
    auth: TeamsAuthentication
    bot: TeamsBot
    keys: KeySet

    async def run_turn(self, turn: dict[str, Any]) -> None:
        """A message turn handed over by ``TeamsEndpoint`` (its token was validated there)."""
        activity = Activity().deserialize(turn["activity"])
        authenticated = self.auth.authenticated(dict(turn["claims"]))
        await self.adapter.process_activity(authenticated, activity, self.bot.on_turn)


@dataclass
class TeamsEndpoint:
    """Authenticates each activity at once (401 before anything runs); then an invoke's turn is awaited
    (its response carries a body), while a message's turn goes to a worker through the job queue (or, with
    no queue, runs in the background here) so Teams gets its 200 straight away and never times out (and
    retries) on a slow answer."""

    parts: TeamsParts
    slots: asyncio.Semaphore  # in-place message turns that may run at once; the rest wait (200 sent)
    dispatch: TeamsDispatch | None = None  # to a worker
    turns: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def bot(self) -> TeamsBot:
        return self.parts.bot

    @property
    def keys(self) -> KeySet:
        return self.parts.keys

    async def handle(self, auth_header: str, activity: Activity) -> InvokeResponse | None:
        parts = self.parts
        authenticated = await parts.auth.authenticate_request(activity, auth_header)
        if activity.type == "invoke":
            result: InvokeResponse | None = await parts.adapter.process_activity(
                authenticated, activity, parts.bot.on_turn
            )
            return result
        if self.dispatch is not None:
            claims = dict(authenticated.claims_identity.claims)
            try:
                await self.dispatch({"activity": activity.serialize(), "claims": claims})
                return None
            except TransientError as exc:
                log.warning("running a Teams turn in the web process: %s", exc)
        task = asyncio.create_task(self._turn(authenticated, activity))
        self.turns.add(task)
        task.add_done_callback(self.turns.discard)
        return None

    async def _turn(self, authenticated: AuthenticateRequestResult, activity: Activity) -> None:
        try:
            async with self.slots:
                await self.parts.adapter.process_activity(authenticated, activity, self.parts.bot.on_turn)
        except Exception:  # a background turn has no caller to raise to: log it
            log.exception("teams turn failed (%s %s)", activity.type, activity.id)

    async def drain(self, within_s: float = 10.0) -> None:
        if self.turns:
            await asyncio.wait(set(self.turns), timeout=within_s)


def commands(settings: Settings, services: Services) -> Commands:
    teams = settings.teams
    limits = ChatLimits(per_user=Rate.parse(teams.user_rate), per_channel=Rate.parse(teams.channel_rate))
    return Commands(
        services.sessions,
        services.asker,
        limiter=services.limiter,
        limits=limits,
        events=services.events,
        command="@Switchboard",
    )


def dispatcher(settings: Settings, services: Services) -> TeamsDispatch | None:
    """Message turns to a worker (``SWITCHBOARD_CHAT_ANSWERS=worker`` and a Redis), else None (in place)."""
    redis = services.redis
    if settings.chat_answers != "worker" or redis is None:
        return None

    async def to_worker(turn: dict[str, Any]) -> None:
        await enqueue_chat_turn(redis, ANSWER_JOB, turn)

    return to_worker


@contextlib.asynccontextmanager
async def open_parts(settings: Settings, services: Services) -> AsyncIterator[TeamsParts | None]:
    """The bot, adapter and authentication from settings, None when Teams is not configured."""
    teams = settings.teams
    if not teams.app_id:
        yield None
        return
    if teams.app_type == "UserAssignedMSI":
        raise ConfigError("Teams with a managed identity (UserAssignedMSI) is not supported yet")
    if teams.app_password is None:
        raise ConfigError("Teams needs SWITCHBOARD_TEAMS__APP_PASSWORD with SWITCHBOARD_TEAMS__APP_ID")
    async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
        keys = KeySet(teams.openid_metadata_url or PUBLIC_OPENID_METADATA, http)
        credentials = ClientCredentialsFactory(
            teams.app_id,
            teams.app_password.get_secret_value(),
            teams.token_url or token_url_for(teams.tenant_id if teams.app_type == "SingleTenant" else None),
            http,
        )
        auth = TeamsAuthentication(TokenValidator(teams.app_id, keys), credentials)
        policy = TeamsPolicy(frozenset(teams.allowed_tenants))
        yield TeamsParts(CloudAdapter(auth), auth, TeamsBot(commands(settings, services), policy), keys)


@contextlib.asynccontextmanager
async def open_endpoint(settings: Settings, services: Services) -> AsyncIterator[TeamsEndpoint | None]:
    """The Teams endpoint with its key cache kept fresh in the background, None when not configured."""
    async with open_parts(settings, services) as parts:
        if parts is None:
            yield None
            return
        refresher = asyncio.create_task(parts.keys.keep_fresh())
        slots = asyncio.Semaphore(settings.teams.concurrent_answers)
        endpoint = TeamsEndpoint(parts, slots, dispatcher(settings, services))
        try:
            yield endpoint
        finally:
            await endpoint.drain()
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher


def endpoint_of(request: Request) -> TeamsEndpoint:
    endpoint: TeamsEndpoint | None = getattr(request.app.state, "teams", None)
    if endpoint is None:
        raise HTTPException(404, detail="Teams is not configured (set SWITCHBOARD_TEAMS__APP_ID)")
    return endpoint


async def activity_of(request: Request) -> Activity:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise HTTPException(413, detail="activity too large")
    try:
        body = json.loads(raw)
        activity = Activity().deserialize(body)
    except (ValueError, DeserializationError, TypeError, AttributeError) as exc:
        raise HTTPException(400, detail="the body is not a Bot Framework activity") from exc
    if not isinstance(body, dict) or not activity.type or not activity.service_url:
        raise HTTPException(400, detail="the body is not a Bot Framework activity")
    if activity.conversation is None or activity.from_property is None or activity.recipient is None:
        raise HTTPException(400, detail="the activity lacks conversation, from or recipient")
    return activity


@router.post("/api/messages")
async def messages(request: Request) -> Response:
    """Bot Framework activities. Missing, malformed and invalid tokens: 401, nothing processed."""
    endpoint = endpoint_of(request)
    activity = await activity_of(request)
    auth_header = request.headers.get("Authorization", "")
    try:
        result = await endpoint.handle(auth_header, activity)
    except (AuthError, PermissionError) as exc:
        log.info("teams request refused: %s", exc)
        return JSONResponse({"detail": "unauthorized"}, 401)
    except (HttpOperationError, ClientRequestError) as exc:
        log.warning("teams reply to the Bot Connector failed: %s", exc)
        return JSONResponse({"detail": "the Bot Connector did not accept the reply"}, 502)
    return response_of(result)


def response_of(result: InvokeResponse | None) -> Response:
    if result is None:
        return Response(status_code=200)
    if result.body is None:
        return Response(status_code=int(result.status))
    return JSONResponse(result.body, int(result.status))
