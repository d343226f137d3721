"""``switchboard user``: admin-page accounts from the command line; and the demo owner of ``serve --demo``."""

from __future__ import annotations

import click
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import accounts, audit, workspaces
from core.account_tables import User
from core.models import ROLES
from hub.cli_admin import in_session
from hub.cli_support import runs_async

DEMO_OWNER = "demo@switchboard.local"


@click.group()
def user() -> None:
    """Admin-page users: local accounts (argon2 passwords) and their roles."""


@user.command("create")
@click.argument("email")
@click.option("--owner", is_flag=True, help="A global owner (may do everything).")
@runs_async
async def user_create(email: str, owner: bool) -> None:
    """Create a user and print a one-time password (shown only now; stored as an argon2 hash)."""

    async def work(session: AsyncSession) -> tuple[User, str]:
        created = await accounts.create_user(session, PasswordHasher(), email, owner=owner)
        entry = audit.Entry(
            actor="cli", action="user.create", target=created[0].email, detail={"owner": owner}
        )
        audit.append(session, entry)
        return created

    created, password = await in_session(work)
    click.echo(f"created {'owner' if owner else 'user'} {created.email}")
    click.echo(f"one-time password: {password}")


@user.command("role")
@click.argument("email")
@click.argument("workspace")
@click.argument("role", type=click.Choice([*ROLES, "none"]))
@runs_async
async def user_role(email: str, workspace: str, role: str) -> None:
    """Grant a role in a workspace (or remove access with `none`)."""

    async def work(session: AsyncSession) -> None:
        found = await accounts.get_user(session, email)
        await accounts.set_role(
            session, found, await workspaces.get(session, workspace), None if role == "none" else role
        )
        audit.append(
            session,
            audit.Entry(
                actor="cli",
                action="access.set",
                workspace=workspace,
                target=found.email,
                detail={"role": role},
            ),
        )

    await in_session(work)
    click.echo(f"{email}: {role} in {workspace}")


@user.command("list")
@runs_async
async def user_list() -> None:
    async def work(session: AsyncSession) -> list[User]:
        return list((await session.scalars(select(User).order_by(User.email))).all())

    for found in await in_session(work):
        click.echo(
            f"{found.email}\t{'owner' if found.is_owner else '-'}\t{'sso' if found.sso_subject else 'local'}"
        )


async def demo_owner(session: AsyncSession) -> str | None:
    """The demo owner's password when this call created it; None when it already exists (shown once)."""
    if await session.scalar(select(User.id).where(User.email == DEMO_OWNER)) is not None:
        return None
    _, password = await accounts.create_user(session, PasswordHasher(), DEMO_OWNER, owner=True)
    audit.append(session, audit.Entry(actor="serve --demo", action="user.create", target=DEMO_OWNER))
    return password
