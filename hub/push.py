"""Push freshness wiring: debounced sync requests, the inbound webhooks, chat change alerts, syncs of
chat-history sources on channel messages, and the Graph subscription renewal job.

A sync request sets ``switchboard:push:pending:<source>`` (SET NX) and queues one sync job deferred by
the debounce window; requests while the key exists join that job. The sync job deletes the key as it
starts (``clear_pending``), so every request it absorbed came before it read anything, and a request
after that start queues the next sync. The key also expires (``PENDING_TTL_S``) in case its job is lost.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import select, update

from bots.alerts import AlertSender, ChangeAlerts
from bots.slack.alerts import SlackAlerts
from bots.teams.alerts import TeamsAlerts
from bots.teams.credentials import ClientCredentialsFactory, token_url_for
from connectors import registry
from connectors.sharepoint import SharePointConnector
from core import push
from core.errors import InvalidInput, TransientError
from core.events import ChannelMessagePosted, DomainEvent
from core.ratelimit import Rate
from core.tables import Source, SourcePush, utcnow
from hub.container import Services
from hub.queue import submit
from hub.slack import oauth_settings, web_client
from hub.source_sync import decrypt_secret, options
from webhooks.graph import GraphSubscriptions
from webhooks.inbound import Inbound

log = structlog.get_logger(__name__)
PENDING_TTL_S = 600


def pending_key(source_id: int) -> str:
    return f"switchboard:push:pending:{source_id}"


async def clear_pending(services: Services, source_id: int) -> None:
    """Called by the sync job as it starts: later requests must queue another sync."""
    if services.redis is not None:
        await services.redis.delete(pending_key(source_id))


HISTORY_TYPES = frozenset({"slack"})  # connectors.registry: Slack channel history


class DebouncedSyncs:
    """``core.push.SyncRequests`` on the job queue: one deferred sync per source per window."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._window_s = services.settings.push.debounce_s

    async def request(self, source: Source, *, reason: str, detail: dict[str, Any] | None = None) -> bool:
        redis = self._services.redis
        if redis is None:
            raise TransientError("no job queue is configured (set SWITCHBOARD_REDIS_URL or run `serve`)")
        key = pending_key(source.id)
        if not await redis.set(key, reason, nx=True, ex=PENDING_TTL_S):
            return False
        params = {"source_id": source.id, "reason": reason, **(detail or {})}
        try:
            await submit(self._services, source.workspace_id, "sync", params, defer_s=self._window_s)
        except TransientError:
            await redis.delete(key)  # the next notification tries again
            raise
        log.info("push sync queued", source=source.id, reason=reason)
        return True


def covers(source: Source, event: ChannelMessagePosted) -> bool:
    """Does this Slack-history source read that channel? (its config's ``channels``)."""
    channels = (source.config or {}).get("channels") or []
    return isinstance(channels, list) and event.channel_id in channels


class HistorySyncs:
    """An event-bus subscriber: a message in a channel that a Slack-history source covers syncs it."""

    def __init__(self, services: Services, syncs: DebouncedSyncs) -> None:
        self._services = services
        self._syncs = syncs

    async def __call__(self, event: DomainEvent) -> None:
        if not isinstance(event, ChannelMessagePosted) or event.platform != "slack":
            return
        async with self._services.sessions() as session:
            sources = (await session.scalars(select(Source).where(Source.type.in_(HISTORY_TYPES)))).all()
        for source in sources:
            if covers(source, event):
                await self._syncs.request(
                    source, reason="slack-message", detail={"channel": event.channel_id}
                )


def alert_senders(services: Services, http: httpx.AsyncClient) -> dict[str, AlertSender]:
    settings = services.settings
    senders: dict[str, AlertSender] = {}
    if settings.slack.bot_token is not None or settings.slack.client_id:
        senders["slack"] = SlackAlerts(web_client(settings), oauth_settings(settings, services))
    teams = settings.teams
    if teams.app_id and teams.app_password is not None:
        tenant = teams.tenant_id if teams.app_type == "SingleTenant" else None
        credentials = ClientCredentialsFactory(
            teams.app_id,
            teams.app_password.get_secret_value(),
            teams.token_url or token_url_for(tenant),
            http,
        )
        senders["teams"] = TeamsAlerts(credentials, http)
    return senders


class SharePointTokens:
    """``core.push.GraphToken`` from the SharePoint connector's own client credentials (msal)."""

    def __init__(self, services: Services) -> None:
        self._services = services

    async def __call__(self, source: Source) -> str:
        settings = self._services.settings
        secret = decrypt_secret(self._services.fernet, source.secret)
        connector = await registry.build(source.type, dict(source.config), secret, options(settings))
        if not isinstance(connector, SharePointConnector):
            raise InvalidInput(f"source {source.id} is not a SharePoint/OneDrive source")
        try:
            return await connector.token()
        finally:  # no keep-alive connection outlives the call
            await connector.http.aclose()
            connector.session.close()


def default_graph_resource(source: Source) -> str | None:
    """What a SharePoint/OneDrive source is subscribed to: its drive's root (changes anywhere below)."""
    drive = (source.config or {}).get("drive_id")
    return f"drives/{drive}/root" if source.type == "sharepoint" and drive else None


@contextlib.asynccontextmanager
async def wired(services: Services) -> AsyncIterator[Inbound]:
    """Subscribe alerts and history syncs to the event bus (app and worker); yield the inbound webhooks."""
    async with httpx.AsyncClient(timeout=15, trust_env=False) as http:
        syncs = DebouncedSyncs(services)
        rate = Rate.parse(services.settings.push.alerts_per_channel)
        alerts = ChangeAlerts(
            services.sessions, alert_senders(services, http), limiter=services.limiter, rate=rate
        )
        services.events.subscribe(alerts)
        services.events.subscribe(HistorySyncs(services, syncs))
        if services.ports.graph_token is None:
            services.ports.graph_token = SharePointTokens(services)
        yield Inbound(
            services.sessions,
            services.fernet,
            services.redis,
            syncs,
            replay_ttl_s=services.settings.push.replay_ttl_s,
        )


async def keep_subscription(
    services: Services, graph: GraphSubscriptions, source: Source, row: SourcePush
) -> None:
    """Create the source's Graph subscription, or renew it when it expires within the renewal margin."""
    cfg = services.settings.push
    token_of = services.ports.graph_token
    if token_of is None or not cfg.public_url or not row.graph_resource:
        return
    lifetime = timedelta(minutes=cfg.graph_lifetime_minutes)
    expires = (
        row.graph_expires_at.replace(tzinfo=row.graph_expires_at.tzinfo or UTC)
        if row.graph_expires_at
        else None
    )
    if (
        row.graph_subscription_id
        and expires
        and expires - utcnow() > timedelta(minutes=cfg.graph_renew_before_minutes)
    ):
        return
    token = await token_of(source)
    kept = (
        await graph.renew(token, row.graph_subscription_id, lifetime) if row.graph_subscription_id else None
    )
    if kept is None:
        kept = await graph.create(
            token,
            resource=row.graph_resource,
            notification_url=f"{cfg.public_url.rstrip('/')}/webhooks/graph",
            client_state=push.reveal(services.fernet, row),
            lifetime=lifetime,
        )
    async with services.sessions.begin() as session:
        await session.execute(
            update(SourcePush)
            .where(SourcePush.source_id == source.id)
            .values(graph_subscription_id=kept.id, graph_expires_at=kept.expires_at)
        )


async def renew_graph_subscriptions(ctx: dict[str, Any]) -> int:
    """Cron: keep every push-enabled Graph source subscribed. Returns how many sources were checked."""
    services: Services = ctx["services"]
    async with services.sessions() as session:
        rows = (
            await session.execute(
                select(Source, SourcePush)
                .join(SourcePush, SourcePush.source_id == Source.id)
                .where(SourcePush.graph_resource.is_not(None))
            )
        ).all()
    async with httpx.AsyncClient(timeout=15, trust_env=False) as http:
        graph = GraphSubscriptions(http, services.settings.push.graph_api_url)
        for source, row in rows:
            try:
                await keep_subscription(services, graph, source, row)
            except Exception:
                log.exception("graph subscription renewal failed", source=source.id)
    return len(rows)
