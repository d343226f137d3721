"""Change alerts: which chat channels watch which collections or documents, within their own workspace.

A watch is created only through a channel's resolved ``Scope`` (so only what its workspace holds), and
at alert time the channel's mapping is checked again: a channel remapped to another workspace, or
narrowed to other collections, stops receiving alerts about the old ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels import Scope
from core.errors import NotFound
from core.events import DocumentChanged
from core.tables import ChannelMapping, Collection, Document, Watch

MAX_LABEL = 200


@dataclass(frozen=True, slots=True)
class Watcher:
    """The channel that watches, as ids (and where Teams alerts go)."""

    platform: str
    team_id: str
    channel_id: str
    tenant_id: str | None = None
    service_url: str | None = None
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # "collection" | "document"
    id: int
    label: str
    collection_id: int


async def find_target(session: AsyncSession, scope: Scope, name: str) -> Target:
    """A collection by name, else a public document by title or external id, inside the scope only."""
    name = name.strip()[:MAX_LABEL]
    collection = await session.scalar(
        select(Collection).where(Collection.workspace_id == scope.workspace.id, Collection.name == name)
    )
    if collection is not None and (not scope.collections or collection.name in scope.collections):
        return Target("collection", collection.id, collection.name, collection.id)
    query = (
        select(Document.id, Document.title, Document.collection_id)
        .join(Collection, Collection.id == Document.collection_id)
        .where(
            Document.workspace_id == scope.workspace.id,
            Document.acl.is_(None),
            or_(func.lower(Document.title) == name.lower(), Document.external_id == name),
        )
        .order_by(Document.id)
        .limit(1)
    )
    if scope.collections:
        query = query.where(Collection.name.in_(scope.collections))
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFound(f"this channel's workspace has no collection or document called {name!r}")
    return Target("document", row.id, row.title, row.collection_id)


async def add(session: AsyncSession, scope: Scope, watcher: Watcher, name: str) -> tuple[Watch, bool]:
    """Watch a target of this scope; (the watch, False) when it was already watched."""
    target = await find_target(session, scope, name)
    key = f"{target.kind}:{target.id}"
    existing = await session.scalar(_of_channel(watcher).where(Watch.target == key))
    if existing is not None:
        return existing, False
    watch = Watch(
        workspace_id=scope.workspace.id,
        platform=watcher.platform,
        team_id=watcher.team_id,
        channel_id=watcher.channel_id,
        tenant_id=watcher.tenant_id,
        service_url=watcher.service_url,
        target=key,
        collection_id=target.collection_id if target.kind == "collection" else None,
        document_id=target.id if target.kind == "document" else None,
        label=target.label[:1024],
        created_by=watcher.user_id,
    )
    session.add(watch)
    await session.flush()
    return watch, True


async def remove(session: AsyncSession, scope: Scope, watcher: Watcher, name: str) -> str:
    """Stop watching a label (as listed by ``watching``); returns the label, NotFound when not watched."""
    for watch in await of_channel(session, scope, watcher):
        if watch.label.lower() == name.strip().lower():
            await session.delete(watch)
            return watch.label
    raise NotFound(f"this channel does not watch {name.strip()[:MAX_LABEL]!r}")


async def of_channel(session: AsyncSession, scope: Scope, watcher: Watcher) -> list[Watch]:
    rows = await session.scalars(
        _of_channel(watcher).where(Watch.workspace_id == scope.workspace.id).order_by(Watch.id)
    )
    return list(rows.all())


def _of_channel(watcher: Watcher):  # type: ignore[no-untyped-def]
    return select(Watch).where(
        Watch.platform == watcher.platform,
        Watch.team_id == watcher.team_id,
        Watch.channel_id == watcher.channel_id,
    )


async def watchers_of(session: AsyncSession, event: DocumentChanged) -> list[Watch]:
    """Watches this change concerns, whose channel is still mapped to the event's workspace (and sees
    the document's collection). Restricted documents (with an ACL) are never announced to channels."""
    if not event.public:
        return []
    rows = await session.execute(
        select(Watch, ChannelMapping.collections, Collection.name)
        .join(
            ChannelMapping,
            (ChannelMapping.platform == Watch.platform)
            & (ChannelMapping.team_id == Watch.team_id)
            & (ChannelMapping.channel_id == Watch.channel_id)
            & (ChannelMapping.workspace_id == Watch.workspace_id),
        )
        .join(Collection, Collection.id == event.collection_id)
        .where(
            Watch.workspace_id == event.workspace_id,
            or_(Watch.collection_id == event.collection_id, Watch.document_id == event.document_id),
        )
        .order_by(Watch.id)
    )
    return [watch for watch, allowed, collection in rows.all() if not allowed or collection in allowed]


async def forget_document(session: AsyncSession, workspace_id: int, document_id: int) -> None:
    """A removed document's watches go once their channels were told."""
    await session.execute(
        delete(Watch).where(Watch.workspace_id == workspace_id, Watch.document_id == document_id)
    )
