"""Keyword index as BM25 over a postings table in the metadata DB.

Every process reads and writes the same rows inside transactions, so API and worker processes always
see one consistent index, on SQLite and PostgreSQL alike, with identical scores on both. Each write is
also logged in ``keyword_changes`` under a new workspace generation, so that a process may keep the
index in memory and replay what others wrote (core.keyword_memory); ``search`` here scores in SQL and
serves searches that must be narrowed to a subset of chunks first.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import Float, Select, Text, and_, bindparam, case, cast, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.tables import Chunk, Document, KeywordChange, Posting, Workspace

K1 = 1.2
B = 0.75
# The change log keeps this many generations; a process further behind reloads the index whole.
KEPT_GENERATIONS = 20_000


async def add(session: AsyncSession, workspace_id: int, chunks: Iterable[tuple[int, Counter[str]]]) -> None:
    """Index each (chunk id, term counts)."""
    chunks = list(chunks)
    rows = [
        {
            "chunk_id": chunk_id,
            "term": term,
            "workspace_id": workspace_id,
            "tf": tf,
            "dl": sum(counts.values()),
        }
        for chunk_id, counts in chunks
        for term, tf in counts.items()
    ]
    for lo in range(0, len(rows), 5000):
        await session.execute(insert(Posting), rows[lo : lo + 5000])
    await _log(session, workspace_id, [(chunk_id, sum(counts.values())) for chunk_id, counts in chunks])


async def remove(session: AsyncSession, workspace_id: int, chunk_ids: list[int]) -> None:
    for lo in range(0, len(chunk_ids), 500):
        await session.execute(delete(Posting).where(Posting.chunk_id.in_(chunk_ids[lo : lo + 500])))
    await _log(session, workspace_id, [(chunk_id, None) for chunk_id in chunk_ids])


async def _log(session: AsyncSession, workspace_id: int, changes: list[tuple[int, int | None]]) -> None:
    """Record the changes under a new generation of the workspace.

    The UPDATE holds the workspace row until the transaction ends, so writers take generations one after
    another and a reader never sees generation n + 1 committed without n.
    """
    if not changes:
        return
    generation = (
        await session.execute(
            update(Workspace)
            .where(Workspace.id == workspace_id)
            .values(keyword_generation=Workspace.keyword_generation + 1)
            .returning(Workspace.keyword_generation)
        )
    ).scalar_one()
    rows = [
        {"workspace_id": workspace_id, "generation": generation, "chunk_id": chunk_id, "length": length}
        for chunk_id, length in changes
    ]
    for lo in range(0, len(rows), 5000):
        await session.execute(insert(KeywordChange), rows[lo : lo + 5000])
    if generation % 1000 == 0:
        await session.execute(
            delete(KeywordChange).where(
                KeywordChange.workspace_id == workspace_id,
                KeywordChange.generation <= generation - KEPT_GENERATIONS,
            )
        )


def generation_query() -> Select[int]:
    """The committed generation of the workspace bound as ``workspace_id``: built once by a caller that
    reads it before every search (building a statement costs more than running it on SQLite)."""
    return select(Workspace.keyword_generation).where(Workspace.id == bindparam("workspace_id"))


def committed(found: int | None) -> int:
    """The workspace's committed keyword generation as read, -1 if the workspace is gone."""
    return -1 if found is None else int(found)


async def generation(session: AsyncSession, workspace_id: int) -> int:
    """The workspace's committed keyword generation (-1 if the workspace is gone)."""
    return committed(await session.scalar(generation_query(), {"workspace_id": workspace_id}))


async def changes_since(
    session: AsyncSession, workspace_id: int, after: int
) -> list[tuple[int, int, int | None]]:
    """(generation, chunk id, length or None) of every change after generation ``after``, in order."""
    query = (
        select(KeywordChange.generation, KeywordChange.chunk_id, KeywordChange.length)
        .where(KeywordChange.workspace_id == workspace_id, KeywordChange.generation > after)
        .order_by(KeywordChange.generation, KeywordChange.id)
    )
    return list((await session.execute(query)).all())


async def chunk_entries(session: AsyncSession, workspace_id: int) -> list[tuple[int, int, bool]]:
    """(chunk id, length, whether its document is public) of every chunk of the workspace, by id."""
    query = (
        select(Chunk.id, Chunk.length, Document.acl.is_(None))
        .join(Document, Document.id == Chunk.document_id)
        .where(Chunk.workspace_id == workspace_id)
        .order_by(Chunk.id)
    )
    return [(int(i), int(n), bool(public)) for i, n, public in (await session.execute(query)).all()]


async def public_chunks(session: AsyncSession, workspace_id: int, chunk_ids: list[int]) -> set[int]:
    """Which of the chunks exist and belong to a public document (one whose ACL is unset)."""
    query = (
        select(Chunk.id)
        .join(Document, Document.id == Chunk.document_id)
        .where(Chunk.workspace_id == workspace_id, Document.acl.is_(None))
    )
    found: set[int] = set()
    for lo in range(0, len(chunk_ids), 500):
        found.update((await session.scalars(query.where(Chunk.id.in_(chunk_ids[lo : lo + 500])))).all())
    return found


async def packed_postings(session: AsyncSession, workspace_id: int) -> list[tuple[str, str]]:
    """Every term of the workspace with its postings packed as ``"chunk,tf,chunk,tf,..."``.

    One row per term instead of one per posting: a workspace's millions of postings load in seconds
    less, the database doing the grouping.
    """
    pair = cast(Posting.chunk_id, Text) + "," + cast(Posting.tf, Text)
    if session.get_bind().dialect.name == "postgresql":
        packed = func.string_agg(pair, ",")
    else:
        packed = func.group_concat(pair, ",")
    query = select(Posting.term, packed).where(Posting.workspace_id == workspace_id).group_by(Posting.term)
    return list((await session.execute(query)).all())


async def postings(
    session: AsyncSession, workspace_id: int, chunk_ids: list[int]
) -> list[tuple[int, str, int]]:
    """(chunk id, term, tf) of the given chunks' postings."""
    query = select(Posting.chunk_id, Posting.term, Posting.tf).where(Posting.workspace_id == workspace_id)
    found: list[tuple[int, str, int]] = []
    for lo in range(0, len(chunk_ids), 500):
        batch = query.where(Posting.chunk_id.in_(chunk_ids[lo : lo + 500]))
        found.extend((await session.execute(batch)).all())
    return found


async def _corpus_stats(session: AsyncSession, workspace_id: int) -> tuple[int, float]:
    row = (
        await session.execute(
            select(func.count(Chunk.id), func.avg(Chunk.length)).where(Chunk.workspace_id == workspace_id)
        )
    ).one()
    return int(row[0] or 0), float(row[1] or 0.0)


async def _document_frequencies(session: AsyncSession, workspace_id: int, terms: list[str]) -> dict[str, int]:
    query = (
        select(Posting.term, func.count())
        .where(Posting.workspace_id == workspace_id, Posting.term.in_(terms))
        .group_by(Posting.term)
    )
    return {term: int(n) for term, n in (await session.execute(query)).all()}


def idf(n_docs: int, df: int) -> float:
    """Lucene's BM25 idf: never negative."""
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


async def search(
    session: AsyncSession,
    workspace_id: int,
    query_terms: Counter[str],
    *,
    limit: int,
    allowed_chunks: Select[int] | None = None,
) -> list[tuple[int, float]]:
    """Top chunks by BM25 for the query terms, optionally restricted to ``allowed_chunks`` ids."""
    if not query_terms:
        return []
    n_docs, avgdl = await _corpus_stats(session, workspace_id)
    dfs = await _document_frequencies(session, workspace_id, list(query_terms))
    if not dfs or avgdl <= 0:
        return []
    weights = {term: idf(n_docs, df) * query_terms[term] for term, df in dfs.items()}
    tf = cast(Posting.tf, Float)
    norm = K1 * (1.0 - B + B * cast(Posting.dl, Float) / avgdl)
    score = func.sum(case(weights, value=Posting.term, else_=0.0) * tf * (K1 + 1.0) / (tf + norm))
    where = and_(Posting.workspace_id == workspace_id, Posting.term.in_(list(weights)))
    if allowed_chunks is not None:
        where = and_(where, Posting.chunk_id.in_(allowed_chunks))
    query = select(Posting.chunk_id, score.label("s")).where(where).group_by(Posting.chunk_id)
    rows = (await session.execute(query.order_by(score.desc()).limit(limit))).all()
    return [(int(chunk_id), float(s)) for chunk_id, s in rows]
