"""Data protection commands: ``keys``, ``person``, ``retention`` and ``webhook``."""

from __future__ import annotations

import json
from typing import TextIO

import click
from cryptography.fernet import Fernet

from core import retention, rotation, workspaces
from core.people import Identity
from hub import protection
from hub.cli_support import load_settings, opened, runs_async
from hub.container import open_services
from hub.migrate import ensure_schema
from hub.outbound import guard
from webhooks import outbound


@click.group()
def keys() -> None:
    """Encryption keys of secrets at rest (SWITCHBOARD_SECRET_KEYS: the first encrypts)."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new Fernet key (put it first in SWITCHBOARD_SECRET_KEYS, then run `keys rotate`)."""
    click.echo(Fernet.generate_key().decode())


@keys.command("rotate")
@runs_async
async def keys_rotate() -> None:
    """Re-encrypt every stored secret under the newest key; older keys can then be dropped."""
    async with opened(load_settings()) as services:
        counts = await protection.rotate_keys(services)
    click.echo(", ".join(f"{n} {table}" for table, n in counts.items()) + " re-encrypted")


@keys.command("verify")
@runs_async
async def keys_verify() -> None:
    """Decrypt every stored secret with the configured keys (fails if any key is missing)."""
    async with opened(load_settings()) as services, services.sessions() as session:
        count = await rotation.verify(session, services.fernet)
    click.echo(f"{count} secrets readable")


def identity(email: str, users: tuple[str, ...]) -> Identity:
    accounts = []
    for user in users:
        platform, _, user_id = user.partition(":")
        if not platform or not user_id:
            raise click.BadParameter(f"{user!r}: use PLATFORM:USER_ID, e.g. slack:U123", param_hint="--user")
        accounts.append((platform, user_id))
    return Identity(email, tuple(accounts))


USER_OPTION = click.option(
    "--user", "users", multiple=True, help="A chat account of the person, PLATFORM:USER_ID (repeatable)."
)


@click.group()
def person() -> None:
    """GDPR: export or erase everything about one person."""


@person.command("export")
@click.argument("email")
@USER_OPTION
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default=None)
@runs_async
async def person_export(email: str, users: tuple[str, ...], output: TextIO | None) -> None:
    """Write everything about a person as JSON (stdout, or --output FILE)."""
    async with opened(load_settings()) as services:
        data = await protection.export_person(services, identity(email, users))
    click.echo(json.dumps(data, indent=2, ensure_ascii=False), file=output)


@person.command("delete")
@click.argument("email")
@USER_OPTION
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@runs_async
async def person_delete(email: str, users: tuple[str, ...], yes: bool) -> None:
    """Delete a person's questions, feedback and conversations; pseudonymise their cost records."""
    if not yes:
        click.confirm(f"erase everything about {email}?", abort=True)
    settings = load_settings()
    async with open_services(settings) as services:  # with Redis: rate-limit counters go too
        await ensure_schema(services.engine)
        counts = await protection.erase_person(services, identity(email, users))
    click.echo(", ".join(f"{n} {what}" for what, n in counts.items()))


@click.group("retention")
def retention_group() -> None:
    """How long each workspace keeps questions and conversations."""


@retention_group.command("set")
@click.argument("name")
@click.option("--questions-days", type=int, default=None, help="Unset: keep forever.")
@click.option("--conversations-days", type=int, default=None, help="Unset: keep forever.")
@runs_async
async def retention_set(name: str, questions_days: int | None, conversations_days: int | None) -> None:
    async with opened(load_settings()) as services, services.sessions.begin() as session:
        target = await workspaces.get(session, name)
        await retention.set_policy(session, target, questions_days, conversations_days)
    kept = {"questions": questions_days, "conversations": conversations_days}
    click.echo(f"{name}: " + ", ".join(f"{what} {days or 'forever'} days" for what, days in kept.items()))


@retention_group.command("run")
@runs_async
async def retention_run() -> None:
    """Enforce every policy now (the worker also does it hourly)."""
    async with opened(load_settings()) as services:
        counts = await protection.run_retention(services)
    click.echo(", ".join(f"{n} {t}" for t, n in counts.items()) or "nothing past its date")


@click.group()
def webhook() -> None:
    """Outbound webhooks of a workspace."""


@webhook.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--event", "events", multiple=True, required=True, type=click.Choice(outbound.EVENT_NAMES))
@runs_async
async def webhook_add(name: str, url: str, events: tuple[str, ...]) -> None:
    """Subscribe URL to events; prints the signing secret once."""
    async with opened(load_settings()) as services, services.sessions.begin() as session:
        target = await workspaces.get(session, name)
        row, secret = await outbound.subscribe(
            session, services.fernet, guard(services), target, url, list(events)
        )
    click.echo(f"webhook {row.id}: {url}\nsigning secret (shown once): {secret}")


@webhook.command("list")
@click.argument("name")
@runs_async
async def webhook_list(name: str) -> None:
    async with opened(load_settings()) as services, services.sessions() as session:
        rows = await outbound.list_subscriptions(session, await workspaces.get(session, name))
    for row in rows:
        click.echo(f"{row.id}\t{row.url}\t{','.join(row.events)}\t{'active' if row.active else 'off'}")


@webhook.command("remove")
@click.argument("name")
@click.argument("sub_id", type=int)
@runs_async
async def webhook_remove(name: str, sub_id: int) -> None:
    async with opened(load_settings()) as services, services.sessions.begin() as session:
        row = await outbound.get_subscription(session, await workspaces.get(session, name), sub_id)
        await session.delete(row)
    click.echo(f"removed webhook {sub_id}")


@webhook.command("deliveries")
@click.argument("name")
@click.argument("sub_id", type=int)
@runs_async
async def webhook_deliveries(name: str, sub_id: int) -> None:
    """The delivery log of one webhook, newest first."""
    async with opened(load_settings()) as services, services.sessions() as session:
        rows = await outbound.deliveries(session, await workspaces.get(session, name), sub_id)
    for d in rows:
        fields = [f"{d.created_at:%Y-%m-%d %H:%M:%S}", d.message_id, f"#{d.attempt}", d.status]
        click.echo("\t".join([*fields, str(d.status_code or "-"), d.error or ""]))


GROUPS = (keys, person, retention_group, webhook)
