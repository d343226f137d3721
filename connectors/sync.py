"""The one sync loop: fetch a page of changes since the cursor, apply it, save the cursor, repeat.

Every connector runs through here. The cursor is saved only after a page's upserts and deletes are
written, so a crash (even SIGKILL) redoes at most one page; indexing is idempotent by content hash, so
redoing it creates no duplicates. Documents are keyed ``<source id>:<remote id>`` so two sources of the
same type in one workspace never overwrite each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update

from connectors.base import Connector, Item, Page
from core.db import Sessions
from core.indexing import IncomingDocument, Indexer
from core.jobs import ItemResult, Report
from core.tables import Document, Source, Workspace


@dataclass(frozen=True, slots=True)
class Target:
    """Where a source's documents go: its workspace and collection, under its own id namespace."""

    source_id: int
    source_type: str
    workspace: Workspace
    collection: str

    def key(self, remote_id: str) -> str:
        return f"{self.source_id}:{remote_id}"


@dataclass(slots=True)
class Summary:
    pages: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, results: list[ItemResult]) -> None:
        for result in results:
            self.counts[result.status] = self.counts.get(result.status, 0) + 1


def incoming(target: Target, item: Item) -> IncomingDocument:
    return IncomingDocument(
        external_id=target.key(item.id),
        data=item.data,
        filename=item.filename,
        collection=target.collection,
        source=target.source_type,
        title=item.title,
        url=item.url,
        doc_type=item.doc_type,
        acl=sorted(set(item.acl)) if item.acl is not None else None,
        updated_at=item.updated_at,
        source_id=target.source_id,
    )


async def apply(indexer: Indexer, sessions: Sessions, target: Target, page: Page) -> list[ItemResult]:
    """Write one page: upserts, then deletes, then the sweep of ids no longer present."""
    results = [ItemResult(target.key(i), "failed", reason) for i, reason in page.failures]
    if page.upserts:
        batch = [incoming(target, item) for item in page.upserts]
        done = await indexer.upsert_many(target.workspace, batch)
        results += [ItemResult(r.external_id, r.status, r.error) for r in done]
    gone = [target.key(i) for i in page.deletes]
    if page.present is not None:
        present = {target.key(i) for i in page.present}
        gone += [k for k in await stored_keys(sessions, target) if k not in present]
    for key in dict.fromkeys(gone):
        if await indexer.delete(target.workspace, target.source_type, key):
            results.append(ItemResult(key, "deleted"))
    return results


async def stored_keys(sessions: Sessions, target: Target) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Document.external_id).where(
                Document.workspace_id == target.workspace.id, Document.source_id == target.source_id
            )
        )
        return list(rows.all())


async def save_cursor(sessions: Sessions, source_id: int, cursor: str | None) -> None:
    async with sessions.begin() as session:
        await session.execute(update(Source).where(Source.id == source_id).values(cursor=cursor))


async def run(
    connector: Connector,
    cursor: str | None,
    *,
    target: Target,
    indexer: Indexer,
    sessions: Sessions,
    report: Report,
) -> Summary:
    """Sync until the connector has no more pages; each page is applied, then its cursor saved."""
    summary = Summary()
    async for page in connector.pages(cursor):
        results = await apply(indexer, sessions, target, page)
        await save_cursor(sessions, target.source_id, page.cursor)
        summary.pages += 1
        summary.add(results)
        if results:
            await report(results)
    return summary


async def remove_all(indexer: Indexer, sessions: Sessions, target: Target) -> int:
    """Remove every document a source indexed (the source is being removed)."""
    removed = 0
    for key in await stored_keys(sessions, target):
        removed += int(await indexer.delete(target.workspace, target.source_type, key))
    return removed
