"""Admin command groups: ``workspace``, ``channel`` and ``apikey``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

from core import apikeys, audit, channels, workspaces
from core.models import ROLES
from hub.cli_support import load_settings, opened, runs_async

PLATFORMS = click.Choice(["slack", "teams"])


async def in_session(
    work: Callable[[AsyncSession], Awaitable[Any]], action: audit.Entry | None = None
) -> Any:
    """Run ``work`` in one committed transaction on the configured database; ``action`` is audited with it."""
    async with opened(load_settings()) as services, services.sessions.begin() as session:
        result = await work(session)
        if action is not None:
            audit.append(session, action)
        return result


def by_cli(action: str, workspace: str | None, target: str = "") -> audit.Entry:
    return audit.Entry(actor="cli", action=action, workspace=workspace, target=target)


@click.group()
def workspace() -> None:
    """Workspaces: the isolation unit."""


@workspace.command("create")
@click.argument("name")
@runs_async
async def workspace_create(name: str) -> None:
    await in_session(lambda s: workspaces.create(s, name), by_cli("workspace.create", name))
    click.echo(f"created workspace {name}")


@workspace.command("list")
@runs_async
async def workspace_list() -> None:
    rows = await in_session(workspaces.list_all)
    for ws, documents in rows:
        click.echo(f"{ws.name}\t{documents} documents\tmodel={ws.embedding_model or '-'}")


@workspace.command("default")
@click.argument("platform", type=PLATFORMS)
@click.option("--team", "team_id", required=True, help="Slack team id, or Teams tenant id.")
@click.argument("name")
@runs_async
async def workspace_default(platform: str, team_id: str, name: str) -> None:
    """Set the workspace for DMs / personal chats of one team or tenant."""

    async def work(session: AsyncSession) -> None:
        await workspaces.set_team_default(session, platform, team_id, await workspaces.get(session, name))

    await in_session(work, by_cli("channel.default", name, f"{platform}:{team_id}"))
    click.echo(f"direct messages in {platform} team {team_id} now use workspace {name}")


@workspace.command("admins")
@click.argument("action", type=click.Choice(["add", "remove", "list"]))
@click.argument("name")
@click.argument("platform", type=PLATFORMS, required=False)
@click.argument("user_id", required=False)
@runs_async
async def workspace_admins(action: str, name: str, platform: str | None, user_id: str | None) -> None:
    """Who may run admin chat commands (connect/disconnect) for a workspace."""
    if action != "list" and not (platform and user_id):
        raise click.UsageError(f"`admins {action}` needs PLATFORM and USER_ID")

    async def work(session: AsyncSession) -> Any:
        target = await workspaces.get(session, name)
        if action == "add":
            return await workspaces.add_chat_admin(session, target, str(platform), str(user_id))
        if action == "remove":
            return await workspaces.remove_chat_admin(session, target, str(platform), str(user_id))
        return await workspaces.chat_admins(session, target)

    entry = None if action == "list" else by_cli(f"chat_admin.{action}", name, f"{platform}:{user_id}")
    result = await in_session(work, entry)
    if action == "list":
        for plat, user in result:
            click.echo(f"{plat}\t{user}")
    else:
        click.echo(f"{action} {platform} {user_id}: {'done' if result else 'no change'}")


@click.group()
def channel() -> None:
    """Channel mappings: which workspace a chat channel may see."""


@channel.command("map")
@click.argument("platform", type=PLATFORMS)
@click.option("--team", "team_id", required=True, help="Slack team_id; Teams channelData.team.id, or `chat`.")
@click.option(
    "--channel", "channel_id", required=True, help="Slack channel id; Teams channel or conversation id."
)
@click.option("--tenant", "tenant_id", default=None, help="Teams tenant id; when given it must match.")
@click.option("--workspace", "name", required=True)
@click.option("--collection", "collections", multiple=True, help="Limit to these collections (repeatable).")
@runs_async
async def channel_map(
    platform: str,
    team_id: str,
    channel_id: str,
    tenant_id: str | None,
    name: str,
    collections: tuple[str, ...],
) -> None:
    async def work(session: AsyncSession) -> None:
        await channels.map_channel(
            session,
            platform=platform,
            team_id=team_id,
            channel_id=channel_id,
            tenant_id=tenant_id,
            workspace=await workspaces.get(session, name),
            collections=list(collections),
        )

    await in_session(work, by_cli("channel.map", name, f"{platform}:{team_id}/{channel_id}"))
    scope = f" (collections: {', '.join(collections)})" if collections else ""
    click.echo(f"mapped {platform} {team_id}/{channel_id} -> {name}{scope}")


@channel.command("unmap")
@click.argument("platform", type=PLATFORMS)
@click.option("--team", "team_id", required=True)
@click.option("--channel", "channel_id", required=True)
@runs_async
async def channel_unmap(platform: str, team_id: str, channel_id: str) -> None:
    target = f"{platform}:{team_id}/{channel_id}"
    await in_session(
        lambda s: channels.unmap_channel(s, platform, team_id, channel_id),
        by_cli("channel.unmap", None, target),
    )
    click.echo(f"unmapped {platform} {team_id}/{channel_id}")


@channel.command("list")
@runs_async
async def channel_list() -> None:
    for mapping, name in await in_session(channels.list_mappings):
        extra = f"\ttenant={mapping.tenant_id}" if mapping.tenant_id else ""
        scope = ",".join(mapping.collections) or "*"
        click.echo(f"{mapping.platform}\t{mapping.team_id}\t{mapping.channel_id}\t{name}\t{scope}{extra}")


@click.group()
def apikey() -> None:
    """API keys for the REST API (each scoped to one workspace and role)."""


@apikey.command("create")
@click.option("--workspace", "name", required=True)
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--name", "label", default="", help="A label to recognise the key by.")
@runs_async
async def apikey_create(name: str, role: str, label: str) -> None:
    async def work(session: AsyncSession) -> tuple[Any, str]:
        return await apikeys.create(session, await workspaces.get(session, name), role, label)

    key, plaintext = await in_session(work, by_cli("apikey.create", name, role))
    click.echo(plaintext)
    click.echo(f"key {key.prefix} for workspace {name} ({role}); it is shown only once", err=True)


@apikey.command("list")
@runs_async
async def apikey_list() -> None:
    for key, name in await in_session(apikeys.list_keys):
        state = "revoked" if key.revoked_at else "active"
        used = key.last_used_at.isoformat() if key.last_used_at else "never"
        click.echo(f"{key.prefix}\t{name}\t{key.role}\t{state}\tlast used {used}\t{key.name}")


@apikey.command("revoke")
@click.argument("prefix")
@runs_async
async def apikey_revoke(prefix: str) -> None:
    await in_session(lambda s: apikeys.revoke(s, prefix), by_cli("apikey.revoke", None, prefix))
    click.echo(f"revoked {prefix}")
