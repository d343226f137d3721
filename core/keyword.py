"""Keyword index as BM25 over a postings table in the metadata DB.

Every process reads and writes the same rows inside transactions, so API and worker processes always
see one consistent index, on SQLite and PostgreSQL alike, with identical scores on both.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import Float, Select, and_, case, cast, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.tables import Chunk, Posting

K1 = 1.2
B = 0.75


async def add(session: AsyncSession, workspace_id: int, chunks: Iterable[tuple[int, Counter[str]]]) -> None:
    """Index each (chunk id, term counts)."""
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


async def remove(session: AsyncSession, chunk_ids: list[int]) -> None:
    for lo in range(0, len(chunk_ids), 500):
        await session.execute(delete(Posting).where(Posting.chunk_id.in_(chunk_ids[lo : lo + 500])))


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
