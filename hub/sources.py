"""Sources of a workspace: add (config validated, secret encrypted), list, remove, and queue a sync.

``enqueue_sync(services, source_id, reason)`` is the one way to ask for a sync (REST, CLI, inbound
webhooks): it records a ``sync`` job and queues it; the source shows ``queued`` until a worker runs it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from connectors import registry, sync
from core.errors import AlreadyExists, InvalidInput, NotFound
from core.indexing import ensure_collection
from core.models import check_slug
from core.tables import Collection, Job, Source, Workspace
from hub.container import Services
from hub.queue import submit
from hub.source_sync import encrypt_secret

MIN_REFRESH_S = 60


def check_interval(refresh_interval_s: int | None) -> int | None:
    if refresh_interval_s is not None and not MIN_REFRESH_S <= refresh_interval_s <= 30 * 86400:
        raise InvalidInput(f"refresh_interval_s must be between {MIN_REFRESH_S} and {30 * 86400} seconds")
    return refresh_interval_s


async def add(
    services: Services,
    workspace: Workspace,
    *,
    source_type: str,
    name: str,
    collection: str = "default",
    config: dict[str, Any],
    secret: dict[str, Any] | None = None,
    refresh_interval_s: int | None = None,
) -> Source:
    """Validate and store a new source; the secret is stored only as a Fernet token."""
    normalised = registry.check(source_type, config, secret or {})
    check_slug(collection, "collection")
    if not name.strip() or len(name) > 200:
        raise InvalidInput("a source name must be 1-200 characters")
    async with services.sessions.begin() as session:
        taken = await session.scalar(
            select(Source.id).where(Source.workspace_id == workspace.id, Source.name == name)
        )
        if taken is not None:
            raise AlreadyExists(f"workspace {workspace.name!r} already has a source named {name!r}")
        source = Source(
            workspace_id=workspace.id,
            collection_id=await ensure_collection(session, workspace.id, collection),
            type=source_type,
            name=name,
            config=normalised,
            secret=encrypt_secret(services.fernet, secret or {}),
            refresh_interval_s=check_interval(refresh_interval_s),
            status="idle",
        )
        session.add(source)
        await session.flush()
    return source


async def list_all(services: Services, workspace: Workspace) -> list[tuple[Source, str]]:
    async with services.sessions() as session:
        rows = await session.execute(
            select(Source, Collection.name)
            .join(Collection, Collection.id == Source.collection_id)
            .where(Source.workspace_id == workspace.id)
            .order_by(Source.id)
        )
        return [(source, collection) for source, collection in rows.all()]


async def get(services: Services, workspace: Workspace, ref: int | str) -> Source:
    """A source of this workspace by id or name; another workspace's source is simply not found."""
    by = Source.id == int(ref) if isinstance(ref, int) or str(ref).isdigit() else Source.name == str(ref)
    async with services.sessions() as session:
        source = await session.scalar(select(Source).where(Source.workspace_id == workspace.id, by))
    if source is None:
        raise NotFound(f"source {ref!r} not found in workspace {workspace.name!r}")
    return source


async def remove(services: Services, workspace: Workspace, ref: int | str) -> int:
    """Delete a source and every document it indexed; returns how many documents were removed."""
    source = await get(services, workspace, ref)
    target = sync.Target(source.id, source.type, workspace, await collection_name(services, source))
    removed = await sync.remove_all(services.indexer, services.sessions, target)
    async with services.sessions.begin() as session:
        found = await session.get(Source, source.id)
        if found is not None:
            await session.delete(found)
    return removed


async def enqueue_sync(services: Services, source_id: int, reason: str = "manual") -> Job:
    """Record and queue a sync of one source (``reason``: manual, webhook, schedule...); returns the job.

    A paused source (AuthError) is resumed by an explicit sync: that is how an admin retries after
    fixing credentials.
    """
    async with services.sessions() as session:
        source = await session.get(Source, source_id)
    if source is None:
        raise NotFound(f"source {source_id} not found")
    job = await submit(services, source.workspace_id, "sync", {"source_id": source_id, "reason": reason})
    async with services.sessions.begin() as session:
        await session.execute(
            update(Source).where(Source.id == source_id, Source.status != "syncing").values(status="queued")
        )
    return job


async def collection_name(services: Services, source: Source) -> str:
    async with services.sessions() as session:
        collection = await session.get(Collection, source.collection_id)
    return collection.name if collection else "default"


def view(source: Source, collection: str) -> dict[str, Any]:
    """What REST and the CLI show: never the secret, only whether one is set."""
    return {
        "id": source.id,
        "type": source.type,
        "name": source.name,
        "collection": collection,
        "config": dict(source.config or {}),
        "has_secret": bool(source.secret),
        "refresh_interval_s": source.refresh_interval_s,
        "status": source.status,
        "last_error": source.last_error,
        "last_synced_at": source.last_synced_at.isoformat() if source.last_synced_at else None,
        "cursor_saved": source.cursor is not None,
    }
