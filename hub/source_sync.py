"""Wires the connectors into the ``sync_source`` job: decrypt the source's secret, build its connector,
and run the one sync loop into the source's workspace and collection (``JobPorts.syncers``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from cryptography.fernet import InvalidToken, MultiFernet

from connectors import registry, sync
from connectors.registry import Options
from core.errors import AuthError, NotFound
from core.jobs import Report
from core.tables import Collection, Source, Workspace
from hub.settings import Settings

if TYPE_CHECKING:
    from hub.container import Services


def options(settings: Settings) -> Options:
    cfg = settings.connectors
    return Options(
        allow_private_urls=cfg.allow_private_urls,
        ca_bundle=cfg.ca_bundle,
        timeout_s=cfg.timeout_s,
        slack_api_url=settings.slack.api_url,
    )


def encrypt_secret(keys: MultiFernet, secret: dict[str, Any]) -> str | None:
    return keys.encrypt(json.dumps(secret).encode()).decode() if secret else None


def decrypt_secret(keys: MultiFernet, token: str | None) -> dict[str, Any]:
    """The source's credentials; a token no configured key opens pauses the source (re-enter them)."""
    if not token:
        return {}
    try:
        loaded = json.loads(keys.decrypt(token.encode()))
    except (InvalidToken, ValueError) as exc:
        raise AuthError(
            "the source's credentials cannot be decrypted with SWITCHBOARD_SECRET_KEYS: set them again"
        ) from exc
    return loaded if isinstance(loaded, dict) else {}


def default_secret(settings: Settings, source_type: str) -> dict[str, Any]:
    """Slack history may reuse the bot's own token when the source has none."""
    if source_type == "slack" and settings.slack.bot_token is not None:
        return {"token": settings.slack.bot_token.get_secret_value()}
    return {}


class SourceSyncer:
    """The ``SyncSource`` port for every connector type."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def target(self, source: Source) -> sync.Target:
        async with self.services.sessions() as session:
            workspace = await session.get(Workspace, source.workspace_id)
            collection = await session.get(Collection, source.collection_id)
        if workspace is None or collection is None:
            raise NotFound(f"source {source.id} has no workspace or collection")
        return sync.Target(source.id, source.type, workspace, collection.name)

    async def __call__(self, source: Source, report: Report) -> None:
        services = self.services
        secret = decrypt_secret(services.fernet, source.secret) or default_secret(
            services.settings, source.type
        )
        connector = await registry.build(source.type, dict(source.config), secret, options(services.settings))
        target = await self.target(source)
        await sync.run(
            connector,
            source.cursor,
            target=target,
            indexer=services.indexer,
            sessions=services.sessions,
            report=report,
        )


def register(services: Services) -> None:
    syncer = SourceSyncer(services)
    for source_type in registry.TYPES:
        services.ports.syncers[source_type] = syncer
