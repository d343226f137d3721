"""Saved queries: a search or question saved by one owner (an API key or an admin user), optionally shared
with the whole workspace, rerun on demand, each run diffed against the previous one."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import AccessDenied, NotFound
from core.protect_tables import SavedQuery, SavedQueryRun
from core.tables import Workspace

Kind = Literal["search", "ask"]


async def save(
    session: AsyncSession, workspace: Workspace, owner: str, name: str, kind: Kind, query: str, shared: bool
) -> SavedQuery:
    row = SavedQuery(workspace_id=workspace.id, owner=owner, name=name, kind=kind, query=query, shared=shared)
    session.add(row)
    await session.flush()
    return row


async def visible(session: AsyncSession, workspace: Workspace, owner: str) -> list[SavedQuery]:
    """The owner's queries and those shared within the workspace."""
    rows = await session.scalars(
        select(SavedQuery)
        .where(SavedQuery.workspace_id == workspace.id, or_(SavedQuery.owner == owner, SavedQuery.shared))
        .order_by(SavedQuery.id)
    )
    return list(rows.all())


async def get(session: AsyncSession, workspace: Workspace, owner: str, query_id: int) -> SavedQuery:
    row = await session.get(SavedQuery, query_id)
    if row is None or row.workspace_id != workspace.id or not (row.shared or row.owner == owner):
        raise NotFound(f"saved query {query_id} not found")
    return row


async def remove(session: AsyncSession, workspace: Workspace, owner: str, query_id: int) -> None:
    row = await get(session, workspace, owner, query_id)
    if row.owner != owner:
        raise AccessDenied("only the owner can delete a saved query")
    await session.delete(row)


async def last_run(session: AsyncSession, query: SavedQuery) -> SavedQueryRun | None:
    return await session.scalar(
        select(SavedQueryRun)
        .where(SavedQueryRun.saved_query_id == query.id)
        .order_by(SavedQueryRun.id.desc())
        .limit(1)
    )


async def record_run(session: AsyncSession, query: SavedQuery, results: dict[str, Any]) -> dict[str, Any]:
    """Store a run's results (``{"documents": [ids in rank order], "answer": str | None}``) and return
    the diff against the previous run (``None`` for the first)."""
    previous = await last_run(session, query)
    session.add(SavedQueryRun(saved_query_id=query.id, results=results))
    await session.flush()
    return diff(previous.results if previous is not None else None, results)


def diff(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    if before is None:
        return {"first_run": True, "added": [], "removed": [], "moved": [], "answer_changed": False}
    old: list[str] = list(before.get("documents", []))
    new: list[str] = list(after.get("documents", []))
    moved = [
        {"document_id": d, "from": old.index(d) + 1, "to": new.index(d) + 1}
        for d in new
        if d in old and old.index(d) != new.index(d)
    ]
    return {
        "first_run": False,
        "added": [d for d in new if d not in old],
        "removed": [d for d in old if d not in new],
        "moved": moved,
        "answer_changed": before.get("answer") != after.get("answer"),
    }
