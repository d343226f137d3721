"""Push freshness: a source's push settings, and the port through which a push asks for a sync.

A push (a Graph notification, a Confluence webhook, a signed generic webhook, a chat message in a
channel that a history source covers) never syncs itself: it asks ``SyncRequests``, which hub wires to
a debounced job enqueue, so a burst of identical notifications collapses into one sync.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any, Protocol

from cryptography.fernet import MultiFernet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.tables import Source, SourcePush

SECRET_PREFIX = "whsec_"  # noqa: S105 - not a secret: the Standard Webhooks secret format: base64 of random bytes


class SyncRequests(Protocol):
    """Ask for an incremental sync of one source. True when a sync was queued, False when it joined
    one already pending (the burst collapsed)."""

    async def request(self, source: Source, *, reason: str, detail: dict[str, Any] | None = None) -> bool: ...


class GraphToken(Protocol):
    """Port the SharePoint/OneDrive connector fills: an app-only Graph access token for a source."""

    async def __call__(self, source: Source) -> str: ...


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


async def enable(
    session: AsyncSession, fernet: MultiFernet, source: Source, *, graph_resource: str | None = None
) -> str:
    """Give a source a new push secret (replacing any old one); returns it in plain text, once."""
    secret = new_secret()
    push = await session.get(SourcePush, source.id)
    if push is None:
        push = SourcePush(source_id=source.id, workspace_id=source.workspace_id, secret="")
        session.add(push)
    push.secret = fernet.encrypt(secret.encode()).decode()
    if graph_resource is not None:
        push.graph_resource = graph_resource or None
        push.graph_subscription_id = None
        push.graph_expires_at = None
    await session.flush()
    return secret


async def of_source(session: AsyncSession, source_id: int) -> tuple[Source, SourcePush]:
    """A source with its push settings; NotFound for an unknown source or one without push."""
    row = (
        await session.execute(
            select(Source, SourcePush)
            .join(SourcePush, SourcePush.source_id == Source.id)
            .where(Source.id == source_id)
        )
    ).first()
    if row is None:
        raise NotFound("no push endpoint here")
    return row[0], row[1]


async def of_subscription(session: AsyncSession, subscription_id: str) -> tuple[Source, SourcePush] | None:
    row = (
        await session.execute(
            select(Source, SourcePush)
            .join(SourcePush, SourcePush.source_id == Source.id)
            .where(SourcePush.graph_subscription_id == subscription_id)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


def reveal(fernet: MultiFernet, push: SourcePush) -> str:
    return fernet.decrypt(push.secret.encode()).decode()
