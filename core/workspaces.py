"""Workspaces: create, find, list; their chat admins and the default workspace for DMs of a team."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import AlreadyExists, NotFound
from core.models import check_slug
from core.tables import ChatAdmin, Collection, Document, TeamDefault, Workspace


async def create(session: AsyncSession, name: str) -> Workspace:
    check_slug(name)
    if await session.scalar(select(Workspace.id).where(Workspace.name == name)) is not None:
        raise AlreadyExists(f"workspace {name!r} already exists")
    workspace = Workspace(name=name)
    session.add(workspace)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent create won the race
        raise AlreadyExists(f"workspace {name!r} already exists") from exc
    return workspace


async def get(session: AsyncSession, name: str) -> Workspace:
    workspace = await session.scalar(select(Workspace).where(Workspace.name == name))
    if workspace is None:
        raise NotFound(f"workspace {name!r} does not exist (see `switchboard workspace list`)")
    return workspace


async def get_or_create(session: AsyncSession, name: str) -> Workspace:
    found = await session.scalar(select(Workspace).where(Workspace.name == name))
    return found if found is not None else await create(session, name)


async def list_all(session: AsyncSession) -> list[tuple[Workspace, int]]:
    """Every workspace with its document count (an admin listing; never used for retrieval)."""
    counts = (
        select(Document.workspace_id, func.count(Document.id).label("n"))
        .group_by(Document.workspace_id)
        .subquery()
    )
    rows = await session.execute(
        select(Workspace, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.workspace_id == Workspace.id)
        .order_by(Workspace.name)
    )
    return [(ws, int(n)) for ws, n in rows.all()]


async def collection_names(session: AsyncSession, workspace_id: int) -> list[str]:
    rows = await session.scalars(
        select(Collection.name).where(Collection.workspace_id == workspace_id).order_by(Collection.name)
    )
    return list(rows.all())


async def set_team_default(session: AsyncSession, platform: str, team_id: str, workspace: Workspace) -> None:
    found = await session.scalar(
        select(TeamDefault).where(TeamDefault.platform == platform, TeamDefault.team_id == team_id)
    )
    if found is None:
        session.add(TeamDefault(platform=platform, team_id=team_id, workspace_id=workspace.id))
    else:
        found.workspace_id = workspace.id
    await session.flush()


async def add_chat_admin(session: AsyncSession, workspace: Workspace, platform: str, user_id: str) -> bool:
    if await is_chat_admin(session, workspace, platform, user_id):
        return False
    session.add(ChatAdmin(workspace_id=workspace.id, platform=platform, user_id=user_id))
    await session.flush()
    return True


async def remove_chat_admin(session: AsyncSession, workspace: Workspace, platform: str, user_id: str) -> bool:
    result = await session.execute(
        delete(ChatAdmin).where(
            ChatAdmin.workspace_id == workspace.id,
            ChatAdmin.platform == platform,
            ChatAdmin.user_id == user_id,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def chat_admins(session: AsyncSession, workspace: Workspace) -> list[tuple[str, str]]:
    rows = await session.execute(
        select(ChatAdmin.platform, ChatAdmin.user_id)
        .where(ChatAdmin.workspace_id == workspace.id)
        .order_by(ChatAdmin.platform, ChatAdmin.user_id)
    )
    return [(p, u) for p, u in rows.all()]


async def is_chat_admin(session: AsyncSession, workspace: Workspace, platform: str, user_id: str) -> bool:
    found = await session.scalar(
        select(ChatAdmin.id).where(
            ChatAdmin.workspace_id == workspace.id,
            ChatAdmin.platform == platform,
            ChatAdmin.user_id == user_id,
        )
    )
    return found is not None


async def remove(session: AsyncSession, workspace: Workspace) -> None:
    """Remove a workspace and, by cascade, everything in it. Its vector collection is dropped separately."""
    await session.delete(workspace)
    await session.flush()
