"""Ingest: parse -> chunk -> embed -> write the DB rows, keyword postings and vectors of one workspace.

Idempotent by content hash: an unchanged document costs one SELECT. The order of writes makes a crash
at any point safe to redo: the document row is marked ``indexed`` only after its vectors are written,
and vectors are replaced by document, so a retry never leaves duplicates.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import keyword
from core.analysis import Analyzer
from core.changes import summarize
from core.db import Sessions
from core.embeddings import Embedder
from core.errors import IndexMismatch, ParseError
from core.events import Change, DocumentChanged, EventBus
from core.ingest.chunk import chunk_document
from core.ingest.parse import ParsedDocument, detect_type, parse
from core.tables import Chunk, Collection, Document, Workspace, as_utc, utcnow
from core.vectors import VectorIndex

Status = Literal["created", "updated", "unchanged", "failed"]


@dataclass(frozen=True, slots=True)
class IncomingDocument:
    """One item to index, from any source. ``data`` is the raw file; its type is sniffed when not given."""

    external_id: str
    data: bytes
    filename: str = ""
    collection: str = "default"
    source: str = "upload"
    title: str | None = None
    url: str | None = None
    doc_type: str | None = None
    acl: list[str] | None = None
    updated_at: datetime | None = None
    source_id: int | None = None

    def content_hash(self) -> str:
        digest = hashlib.sha256(self.data)
        for part in (
            self.title,
            self.url,
            self.collection,
            repr(sorted(self.acl or [])),
            repr(self.acl is None),
        ):
            digest.update(b"\0" + (part or "").encode())
        return digest.hexdigest()


@dataclass(slots=True)
class IngestResult:
    external_id: str
    status: Status
    chunks: int = 0
    error: str | None = None


@dataclass(slots=True)
class Prepared:
    incoming: IncomingDocument
    content_hash: str
    title: str
    doc_type: str
    text: str
    chunks: list[Any] = field(default_factory=list)
    passages: list[str] = field(default_factory=list)


@dataclass(slots=True)
class WrittenRow:
    """A document row being written, whether it is new, and its text before (for change events)."""

    document: Document
    created: bool
    previous: str | None


def distinct_runs(todo: list[tuple[int, Prepared]]) -> list[list[tuple[int, Prepared]]]:
    """Consecutive runs in which no document comes twice: a later copy must overwrite an earlier one."""
    runs: list[list[tuple[int, Prepared]]] = []
    seen: set[tuple[str, str]] = set()
    for item in todo:
        key = (item[1].incoming.source, item[1].incoming.external_id)
        if not runs or key in seen:
            runs.append([])
            seen = set()
        runs[-1].append(item)
        seen.add(key)
    return runs


def fill(document: Document, prepared: Prepared, collection_id: int) -> None:
    """Set a document row from what was parsed; ``indexed`` stays false until its vectors are written."""
    incoming = prepared.incoming
    document.collection_id = collection_id
    document.source_id = incoming.source_id
    document.title = prepared.title
    document.url = incoming.url
    document.doc_type = prepared.doc_type
    document.content_hash = prepared.content_hash
    document.text = prepared.text
    document.acl = incoming.acl
    document.indexed = False
    document.updated_at = incoming.updated_at or utcnow()


def passage_text(title: str, section: str, text: str) -> str:
    """What gets embedded and keyword-indexed for a chunk: its context (title, section) then its text."""
    head = [p for p in (title, section) if p and p not in text[: len(p) + 2]]
    return "\n".join([*dict.fromkeys(head), text])


class Parser(Protocol):
    """Bytes of a known type -> text blocks (``core.ingest.parse.parse``, or a sandboxed equivalent)."""

    def __call__(self, data: bytes, doc_type: str, *, max_pdf_pages: int) -> ParsedDocument: ...


class Indexer:
    def __init__(
        self,
        sessions: Sessions,
        vectors: VectorIndex,
        embedder: Embedder,
        analyzer: Analyzer,
        *,
        max_pdf_pages: int = 2000,
        chunk_tokens: int = 200,
        overlap_tokens: int = 40,
        parser: Parser = parse,
        events: EventBus | None = None,
    ) -> None:
        self._sessions = sessions
        self._events = events  # DocumentChanged for every added, changed or removed document
        self._parse = parser
        self._vectors = vectors
        self._embedder = embedder
        self._analyzer = analyzer
        self._max_pdf_pages = max_pdf_pages
        self._chunk_tokens = chunk_tokens
        self._overlap_tokens = overlap_tokens

    async def upsert(self, workspace: Workspace, incoming: IncomingDocument) -> IngestResult:
        return (await self.upsert_many(workspace, [incoming]))[0]

    async def upsert_many(
        self, workspace: Workspace, batch: Sequence[IncomingDocument]
    ) -> list[IngestResult]:
        """Index a batch; chunks of all its documents are embedded together for throughput.

        A document that fails to parse gets a failed result; the others still go in.
        """
        self._check_model(workspace)
        await self._ensure_collections(workspace, {d.collection for d in batch})
        results: dict[int, IngestResult] = {}
        todo: list[tuple[int, Prepared]] = []
        unchanged = await self._unchanged(workspace, batch)
        for i, incoming in enumerate(batch):
            if incoming.external_id in unchanged:
                results[i] = IngestResult(incoming.external_id, "unchanged")
                continue
            try:
                todo.append((i, await asyncio.to_thread(self.prepare, incoming)))
            except ParseError as exc:
                results[i] = IngestResult(incoming.external_id, "failed", error=str(exc))
        await self._embed_and_write(workspace, todo, results)
        return [results[i] for i in range(len(batch))]

    async def _ensure_collections(self, workspace: Workspace, names: set[str]) -> None:
        """Create missing collections each in its own transaction: concurrent jobs may race to create one."""
        for name in sorted(names):
            try:
                async with self._sessions.begin() as session:
                    await ensure_collection(session, workspace.id, name)
            except IntegrityError:  # another writer created it first: it exists now
                continue

    def _check_model(self, workspace: Workspace) -> None:
        if workspace.embedding_model and workspace.embedding_model != self._embedder.name:
            raise IndexMismatch(
                f"workspace {workspace.name!r} was indexed with {workspace.embedding_model!r}, "
                f"not {self._embedder.name!r}: run `switchboard reindex {workspace.name}`"
            )

    async def _unchanged(self, workspace: Workspace, batch: Sequence[IncomingDocument]) -> set[str]:
        """External ids whose stored, fully indexed copy has the same content hash."""
        hashes = {(d.source, d.external_id): d.content_hash() for d in batch}
        async with self._sessions() as session:
            rows = await session.execute(
                select(Document.source, Document.external_id, Document.content_hash).where(
                    Document.workspace_id == workspace.id,
                    Document.external_id.in_([d.external_id for d in batch]),
                    Document.indexed.is_(True),
                )
            )
            return {ext for src, ext, h in rows.all() if hashes.get((src, ext)) == h}

    def prepare(self, incoming: IncomingDocument) -> Prepared:
        doc_type = incoming.doc_type or detect_type(incoming.data, incoming.filename or incoming.external_id)
        parsed = self._parse(incoming.data, doc_type, max_pdf_pages=self._max_pdf_pages)
        title = incoming.title or parsed.title or ""
        shown = title or incoming.filename or incoming.external_id
        prepared = Prepared(incoming, incoming.content_hash(), shown[:1024], doc_type, parsed.text)
        prepared.chunks = chunk_document(
            parsed, max_tokens=self._chunk_tokens, overlap_tokens=self._overlap_tokens
        )
        prepared.passages = [passage_text(title, c.section, c.text) for c in prepared.chunks]
        return prepared

    async def _embed_and_write(
        self, workspace: Workspace, todo: list[tuple[int, Prepared]], results: dict[int, IngestResult]
    ) -> None:
        """Embed the batch's passages in one go, then write each run of distinct documents together."""
        passages = [p for _, prepared in todo for p in prepared.passages]
        vectors = await asyncio.to_thread(self._embedder.embed, passages) if passages else np.zeros((0, 1))
        offset = 0
        for run in distinct_runs(todo):
            n = sum(len(prepared.passages) for _, prepared in run)
            created = await self._write(
                workspace, [prepared for _, prepared in run], vectors[offset : offset + n]
            )
            offset += n
            for (i, prepared), new in zip(run, created, strict=True):
                status: Status = "created" if new else "updated"
                results[i] = IngestResult(prepared.incoming.external_id, status, len(prepared.passages))
        if todo:
            await self._bump_version(workspace)

    async def _write(self, workspace: Workspace, batch: list[Prepared], vectors: Any) -> list[bool]:
        """Write distinct documents' rows, postings and vectors; whether each document is new.

        One transaction and one vector upsert serve them all: done per document, their fixed costs were
        most of ingest after the model (bench/README.md, ingest throughput).
        """
        async with self._sessions.begin() as session:
            rows = await self._upsert_rows(session, workspace, batch)
            chunk_ids = await self._replace_chunks(session, workspace, [row.document for row in rows], batch)
        metadatas = [
            vector_metadata(row.document, prepared.incoming.collection, c.ord)
            for row, prepared in zip(rows, batch, strict=True)
            for c in prepared.chunks
        ]
        replaced = [row.document.id for row in rows if not row.created]  # new documents have no vectors
        if replaced:
            await self._vectors.delete_documents(workspace.uid, replaced)
        await self._vectors.add(workspace.uid, chunk_ids, vectors, metadatas)
        async with self._sessions.begin() as session:
            await session.execute(
                update(Document)
                .where(Document.id.in_([row.document.id for row in rows]))
                .values(indexed=True)
            )
        for row, prepared in zip(rows, batch, strict=True):
            await self._announce(
                row.document, "added" if row.created else "changed", row.previous, prepared.text
            )
        return [row.created for row in rows]

    async def _announce(self, document: Document, change: Change, old: str | None, new: str | None) -> None:
        if self._events is None:
            return
        event = DocumentChanged(
            workspace_id=document.workspace_id,
            collection_id=document.collection_id,
            document_id=document.id,
            external_id=document.external_id,
            title=document.title,
            url=document.url,
            change=change,
            summary=summarize(old if change != "added" else None, new),
            public=document.acl is None,
        )
        await self._events.publish(event)

    async def _upsert_rows(
        self, session: AsyncSession, workspace: Workspace, batch: list[Prepared]
    ) -> list[WrittenRow]:
        """Insert or update the document rows of distinct documents, found with one SELECT."""
        found = await session.scalars(
            select(Document).where(
                Document.workspace_id == workspace.id,
                Document.external_id.in_([p.incoming.external_id for p in batch]),
            )
        )
        existing = {(d.source, d.external_id): d for d in found}
        collections = {
            name: await ensure_collection(session, workspace.id, name)
            for name in sorted({p.incoming.collection for p in batch})
        }
        rows = []
        for prepared in batch:
            incoming = prepared.incoming
            document = existing.get((incoming.source, incoming.external_id))
            if document is None:
                document = Document(
                    workspace_id=workspace.id, source=incoming.source, external_id=incoming.external_id
                )
                session.add(document)
                rows.append(WrittenRow(document, created=True, previous=None))
            else:
                rows.append(WrittenRow(document, created=False, previous=document.text))
            fill(document, prepared, collections[incoming.collection])
        await session.flush()
        return rows

    async def _replace_chunks(
        self, session: AsyncSession, workspace: Workspace, documents: list[Document], batch: list[Prepared]
    ) -> list[int]:
        """Chunk rows and postings of the documents, in place of their old ones; the new chunk ids."""
        ids = [d.id for d in documents]
        old = list((await session.scalars(select(Chunk.id).where(Chunk.document_id.in_(ids)))).all())
        if old:
            await keyword.remove(session, workspace.id, old)
            await session.execute(delete(Chunk).where(Chunk.document_id.in_(ids)))
        chunks: list[tuple[Chunk, Counter[str]]] = []
        for document, prepared in zip(documents, batch, strict=True):
            for c, passage in zip(prepared.chunks, prepared.passages, strict=True):
                counts = self._analyzer.term_counts(passage)
                row = Chunk(
                    workspace_id=workspace.id,
                    document_id=document.id,
                    ord=c.ord,
                    start=c.start,
                    end=c.end,
                    section=c.section,
                    length=sum(counts.values()),
                )
                chunks.append((row, counts))
        session.add_all([row for row, _ in chunks])
        await session.flush()
        await keyword.add(session, workspace.id, [(row.id, counts) for row, counts in chunks])
        return [row.id for row, _ in chunks]

    async def _bump_version(self, workspace: Workspace) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(Workspace)
                .where(Workspace.id == workspace.id)
                .values(index_version=Workspace.index_version + 1, embedding_model=self._embedder.name)
            )
        workspace.embedding_model = self._embedder.name

    async def delete(self, workspace: Workspace, source: str, external_id: str) -> bool:
        """Remove a document, its chunks, postings and vectors. False when it was not there."""
        async with self._sessions.begin() as session:
            document = await session.scalar(
                select(Document).where(
                    Document.workspace_id == workspace.id,
                    Document.source == source,
                    Document.external_id == external_id,
                )
            )
            if document is None:
                return False
            await self._vectors.delete_documents(workspace.uid, [document.id])
            chunk_ids = list(
                (await session.scalars(select(Chunk.id).where(Chunk.document_id == document.id))).all()
            )
            await keyword.remove(session, workspace.id, chunk_ids)
            await session.execute(delete(Chunk).where(Chunk.document_id == document.id))
            await session.delete(document)
        await self._bump_version(workspace)
        await self._announce(document, "removed", document.text, None)
        return True

    async def reindex(
        self,
        workspace: Workspace,
        *,
        batch_size: int = 256,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Embed every chunk again with this indexer's model, into a new vector collection; returns how
        many. For a change of embedding model: the old vectors cannot be compared with new queries.

        The workspace is marked as built with the new model first, so searches meanwhile (in any
        process) find everything by keyword and more and more by meaning; documents ingested meanwhile
        land in the new collection too. A chunk's passage is rebuilt from its stored document: a document
        that had no title of its own now carries its file name as title in the passage.
        """
        async with self._sessions() as session:
            total = await session.scalar(
                select(func.count(Chunk.id)).where(Chunk.workspace_id == workspace.id)
            )
        await self._vectors.drop(workspace.uid)
        await self._bump_version(workspace)
        done, after = 0, 0
        while batch := await self._chunks_after(workspace, after, batch_size):
            passages = [
                passage_text(document.title, chunk.section, document.text[chunk.start : chunk.end])
                for chunk, document, _ in batch
            ]
            vectors = await asyncio.to_thread(self._embedder.embed, passages)
            metadatas = [vector_metadata(document, name, chunk.ord) for chunk, document, name in batch]
            await self._vectors.add(workspace.uid, [chunk.id for chunk, _, _ in batch], vectors, metadatas)
            after, done = batch[-1][0].id, done + len(batch)
            if on_progress is not None:
                on_progress(done, max(total or 0, done))
        await self._bump_version(workspace)  # answers cached while vectors were missing are stale
        return done

    async def _chunks_after(
        self, workspace: Workspace, after: int, limit: int
    ) -> list[tuple[Chunk, Document, str]]:
        """The workspace's next chunks by id, each with its document and collection name."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Chunk, Document, Collection.name)
                .join(Document, Document.id == Chunk.document_id)
                .join(Collection, Collection.id == Document.collection_id)
                .where(Chunk.workspace_id == workspace.id, Chunk.id > after)
                .order_by(Chunk.id)
                .limit(limit)
            )
            return [(chunk, document, name) for chunk, document, name in rows.all()]


def vector_metadata(document: Document, collection: str, ord_: int) -> dict[str, Any]:
    """What Chroma stores with a chunk's vector, for the filters it pre-applies (core.retrieval)."""
    return {
        "doc": document.id,
        "ord": ord_,
        "collection": collection,
        "doc_type": document.doc_type,
        "source": document.source,
        "updated_at": int(as_utc(document.updated_at).timestamp()),
        "public": document.acl is None,
    }


async def ensure_collection(session: AsyncSession, workspace_id: int, name: str) -> int:
    found = await session.scalar(
        select(Collection.id).where(Collection.workspace_id == workspace_id, Collection.name == name)
    )
    if found is not None:
        return found
    collection = Collection(workspace_id=workspace_id, name=name)
    session.add(collection)
    await session.flush()
    return collection.id


async def ingest_all(
    indexer: Indexer,
    workspace: Workspace,
    documents: Sequence[IncomingDocument],
    *,
    batch_size: int = 32,
    on_progress: Callable[[list[IngestResult]], Awaitable[None] | None] | None = None,
) -> list[IngestResult]:
    """Index many documents in embedding-sized batches, reporting each finished batch."""
    results: list[IngestResult] = []
    for lo in range(0, len(documents), batch_size):
        batch_results = await indexer.upsert_many(workspace, documents[lo : lo + batch_size])
        results.extend(batch_results)
        if on_progress is not None:
            maybe = on_progress(batch_results)
            if maybe is not None:
                await maybe
    return results
