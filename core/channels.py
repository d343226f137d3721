"""Channel mappings and the isolation rule: a chat conversation reaches a workspace only through a mapping.

Deny by default: an unmapped channel, an externally shared channel, an unknown team or a tenant that
does not match gets ``AccessDenied`` with a how-to.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import AccessDenied, InvalidInput, NotFound
from core.models import check_slug
from core.tables import ChannelMapping, TeamDefault, Workspace
from core.workspaces import collection_names


@dataclass(frozen=True, slots=True)
class Conversation:
    """Where a chat message came from, as ids. ``kind`` is "channel", "group" or "direct"."""

    platform: str
    team_id: str | None
    channel_id: str
    kind: str = "channel"
    tenant_id: str | None = None
    externally_shared: bool = False


@dataclass(frozen=True, slots=True)
class Scope:
    """What a conversation may see: one workspace, optionally narrowed to some of its collections."""

    workspace: Workspace
    collections: tuple[str, ...]


def how_to_connect(conversation: Conversation) -> str:
    team = conversation.team_id or "<team id>"
    return (
        "An admin can connect this channel with `switchboard channel map "
        f"{conversation.platform} --team {team} --channel {conversation.channel_id} --workspace <name>`, "
        "or a workspace chat admin can run `connect <workspace>` here."
    )


async def map_channel(
    session: AsyncSession,
    *,
    platform: str,
    team_id: str,
    channel_id: str,
    workspace: Workspace,
    tenant_id: str | None = None,
    collections: list[str] | None = None,
) -> ChannelMapping:
    """Create or replace the mapping of one channel. Collections must exist in that workspace."""
    wanted = [check_slug(c, "collection") for c in collections or []]
    unknown = set(wanted) - set(await collection_names(session, workspace.id))
    if unknown:
        raise InvalidInput(f"workspace {workspace.name!r} has no collection(s) {', '.join(sorted(unknown))}")
    mapping = await find(session, platform, team_id, channel_id)
    if mapping is None:
        mapping = ChannelMapping(platform=platform, team_id=team_id, channel_id=channel_id, workspace_id=0)
        session.add(mapping)
    mapping.workspace_id = workspace.id
    mapping.tenant_id = tenant_id
    mapping.collections = wanted
    await session.flush()
    return mapping


async def find(session: AsyncSession, platform: str, team_id: str, channel_id: str) -> ChannelMapping | None:
    return await session.scalar(
        select(ChannelMapping).where(
            ChannelMapping.platform == platform,
            ChannelMapping.team_id == team_id,
            ChannelMapping.channel_id == channel_id,
        )
    )


async def unmap_channel(session: AsyncSession, platform: str, team_id: str, channel_id: str) -> None:
    result = await session.execute(
        delete(ChannelMapping).where(
            ChannelMapping.platform == platform,
            ChannelMapping.team_id == team_id,
            ChannelMapping.channel_id == channel_id,
        )
    )
    if not getattr(result, "rowcount", 0):
        raise NotFound(f"no mapping for {platform} team {team_id} channel {channel_id}")


async def list_mappings(session: AsyncSession) -> list[tuple[ChannelMapping, str]]:
    rows = await session.execute(
        select(ChannelMapping, Workspace.name)
        .join(Workspace, Workspace.id == ChannelMapping.workspace_id)
        .order_by(ChannelMapping.platform, ChannelMapping.team_id, ChannelMapping.channel_id)
    )
    return [(m, name) for m, name in rows.all()]


async def resolve(session: AsyncSession, conversation: Conversation) -> Scope:
    """The scope a conversation may see, or AccessDenied. The only way from chat to documents."""
    if conversation.externally_shared:
        raise AccessDenied(
            "This channel is shared with another organisation, so I can't answer here.",
            how_to="Ask in an internal channel or a direct message instead.",
        )
    if conversation.kind == "direct":
        return await _resolve_direct(session, conversation)
    mapping = (
        await find(session, conversation.platform, conversation.team_id, conversation.channel_id)
        if conversation.team_id
        else None
    )
    if mapping is None or (mapping.tenant_id and mapping.tenant_id != conversation.tenant_id):
        raise AccessDenied(
            "This channel is not connected to a Switchboard workspace.", how_to=how_to_connect(conversation)
        )
    workspace = await session.get(Workspace, mapping.workspace_id)
    if workspace is None:  # pragma: no cover - the foreign key cascades
        raise AccessDenied("This channel's workspace no longer exists.", how_to=how_to_connect(conversation))
    return Scope(workspace, tuple(mapping.collections or ()))


async def _resolve_direct(session: AsyncSession, conversation: Conversation) -> Scope:
    team = conversation.team_id
    default = (
        await session.scalar(
            select(TeamDefault).where(
                TeamDefault.platform == conversation.platform, TeamDefault.team_id == team
            )
        )
        if team
        else None
    )
    if default is None:
        raise AccessDenied(
            "Direct messages are not set up for your team yet.",
            how_to=(
                "An admin can run "
                f"`switchboard workspace default {conversation.platform} --team {team} <name>`."
            ),
        )
    workspace = await session.get(Workspace, default.workspace_id)
    if workspace is None:  # pragma: no cover
        raise AccessDenied("The default workspace no longer exists.")
    return Scope(workspace, ())
