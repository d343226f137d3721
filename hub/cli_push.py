"""``switchboard push``: give a source a push secret (and a Graph resource to subscribe to), see where
its system should send change notifications, or turn push off."""

from __future__ import annotations

import click
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from core import push as pushes
from core.errors import NotFound
from core.tables import Source, SourcePush
from hub.cli_support import load_settings, opened, runs_async
from hub.push import default_graph_resource


@click.group()
def push() -> None:
    """Change pushes (webhooks) from a source's system."""


@push.command("enable")
@click.argument("source_id", type=click.IntRange(1))
@click.option(
    "--graph-resource",
    default=None,
    help="Graph resource to subscribe to (default for SharePoint sources: drives/<drive id>/root); "
    "the worker keeps it subscribed.",
)
@runs_async
async def push_enable(source_id: int, graph_resource: str | None) -> None:
    """Create (or rotate) the source's push secret and print it once, with the endpoints to configure."""
    settings = load_settings()
    async with opened(settings) as services, services.sessions.begin() as session:
        source = await session.get(Source, source_id)
        if source is None:
            raise NotFound(f"source {source_id} not found")
        graph_resource = graph_resource or default_graph_resource(source)
        secret = await pushes.enable(session, services.fernet, source, graph_resource=graph_resource)
    base = (settings.push.public_url or "https://<this server>").rstrip("/")
    click.echo(f"secret (shown once): {secret}")
    click.echo(f"confluence webhook: {base}/webhooks/confluence/{source_id}  (secret as above)")
    click.echo(f"generic push (Standard Webhooks): {base}/webhooks/sources/{source_id}")
    if graph_resource:
        click.echo(
            f"graph: the worker subscribes {graph_resource} with notificationUrl {base}/webhooks/graph"
        )


@push.command("disable")
@click.argument("source_id", type=click.IntRange(1))
@runs_async
async def push_disable(source_id: int) -> None:
    """Forget the source's push secret: its pushes are refused from now on."""

    async def work(session: AsyncSession) -> int:
        result = await session.execute(delete(SourcePush).where(SourcePush.source_id == source_id))
        return int(getattr(result, "rowcount", 0))

    async with opened(load_settings()) as services, services.sessions.begin() as session:
        removed = await work(session)
    if not removed:
        raise NotFound(f"source {source_id} has no push set up")
    click.echo(f"push disabled for source {source_id}")
