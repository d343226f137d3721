"""``switchboard source add|list|sync|remove``: connectors feeding a workspace's collections."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from core import workspaces
from core.errors import ConfigError, InvalidInput
from hub import sources
from hub.cli_support import load_settings, opened, runs_async
from hub.container import open_services
from hub.migrate import ensure_schema

TYPES = click.Choice(["confluence", "sharepoint", "slack", "web"])


def json_object(text: str | None, what: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        loaded = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"{what} must be a JSON object: {exc}") from exc
    if not isinstance(loaded, dict):
        raise InvalidInput(f"{what} must be a JSON object")
    return loaded


@click.group()
def source() -> None:
    """Sources: Confluence spaces, SharePoint/OneDrive drives, Slack channels, web pages."""


@source.command("add")
@click.option("--workspace", required=True)
@click.option("--type", "source_type", type=TYPES, required=True)
@click.option("--name", required=True)
@click.option("--collection", default="default", show_default=True)
@click.option(
    "--config", "config_json", required=True, help='JSON object, e.g. \'{"urls": ["https://..."]}\''
)
@click.option("--secret-env", help="Name of an environment variable holding the secret as a JSON object.")
@click.option("--refresh", "refresh_s", type=int, help="Refresh interval in seconds (at least 60).")
@runs_async
async def source_add(
    workspace: str,
    source_type: str,
    name: str,
    collection: str,
    config_json: str,
    secret_env: str | None,
    refresh_s: int | None,
) -> None:
    """Add a source; its secret is read from an environment variable, never from the command line."""
    secret = json_object(os.environ.get(secret_env, "") if secret_env else "", f"${secret_env}")
    if secret_env and not secret:
        raise InvalidInput(f"environment variable {secret_env} is not set or empty")
    async with opened(load_settings()) as services:
        async with services.sessions.begin() as session:
            target = await workspaces.get(session, workspace)
        created = await sources.add(
            services,
            target,
            source_type=source_type,
            name=name,
            collection=collection,
            config=json_object(config_json, "--config"),
            secret=secret,
            refresh_interval_s=refresh_s,
        )
    click.echo(f"added source {created.id} ({source_type} {name}) to workspace {workspace}")


@source.command("list")
@click.option("--workspace", required=True)
@click.option("--json", "as_json", is_flag=True)
@runs_async
async def source_list(workspace: str, as_json: bool) -> None:
    async with opened(load_settings()) as services:
        async with services.sessions() as session:
            target = await workspaces.get(session, workspace)
        rows = [sources.view(s, c) for s, c in await sources.list_all(services, target)]
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        error = f"\t{row['last_error']}" if row["last_error"] else ""
        click.echo(f"{row['id']}\t{row['type']}\t{row['name']}\t{row['collection']}\t{row['status']}{error}")


@source.command("sync")
@click.option("--workspace", required=True)
@click.argument("ref")
@click.option("--wait", is_flag=True, help="Follow the job until it finishes, with a progress bar.")
@runs_async
async def source_sync(workspace: str, ref: str, wait: bool) -> None:
    """Queue a sync of one source (by id or name); needs the job queue (`serve` or a Redis URL)."""
    from hub.cli_jobs import follow_with_bar

    async with open_services(load_settings()) as services:
        if services.redis is None:
            raise ConfigError("syncs run on workers: run `switchboard serve`, or set SWITCHBOARD_REDIS_URL")
        await ensure_schema(services.engine)
        async with services.sessions() as session:
            target = await workspaces.get(session, workspace)
        found = await sources.get(services, target, ref)
        job = await sources.enqueue_sync(services, found.id, "cli")
        click.echo(f"queued sync job {job.id} for source {found.id}")
        if wait:
            final = await follow_with_bar(services, target.id, job.id)
            click.echo(json.dumps(final.get("counts", {})))


@source.command("remove")
@click.option("--workspace", required=True)
@click.argument("ref")
@runs_async
async def source_remove(workspace: str, ref: str) -> None:
    """Remove a source (by id or name) and every document it indexed."""
    async with opened(load_settings()) as services:
        async with services.sessions() as session:
            target = await workspaces.get(session, workspace)
        removed = await sources.remove(services, target, ref)
    click.echo(f"removed source {ref} and {removed} documents")
