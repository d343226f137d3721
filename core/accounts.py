"""Accounts: users with argon2 password hashes, roles per workspace, and server-side login sessions.

Roles: ``viewer`` < ``editor`` < ``admin`` in one workspace; ``owner`` is global and may do everything.
A session token is 256-bit random, shown to the browser once (its cookie) and stored only as SHA-256.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.account_tables import LoginSession, User, UserRole
from core.errors import AlreadyExists, InvalidInput, NotFound
from core.models import ROLES
from core.tables import Workspace, utcnow

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
MIN_PASSWORD = 12


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is signed in, and what they may do: a global owner, or roles per workspace id."""

    user_id: int
    email: str
    is_owner: bool
    roles: dict[int, str] = field(default_factory=dict)

    def can(self, workspace_id: int, role: str) -> bool:
        if self.is_owner:
            return True
        held = self.roles.get(workspace_id)
        return held is not None and ROLES.index(held) >= ROLES.index(role)

    def is_any_admin(self) -> bool:
        return self.is_owner or "admin" in self.roles.values()


def check_email(email: str) -> str:
    cleaned = email.strip().lower()
    if not EMAIL.match(cleaned):
        raise InvalidInput(f"{email!r} is not an email address")
    return cleaned


def new_password() -> str:
    return secrets.token_urlsafe(18)


def hash_password(hasher: PasswordHasher, password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters")
    return hasher.hash(password)


async def create_user(
    session: AsyncSession,
    hasher: PasswordHasher,
    email: str,
    *,
    owner: bool = False,
    password: str | None = None,
) -> tuple[User, str]:
    """A new local user and its password (generated when not given), returned only here."""
    email = check_email(email)
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AlreadyExists(f"user {email!r} already exists")
    plaintext = password or new_password()
    user = User(email=email, password_hash=hash_password(hasher, plaintext), is_owner=owner)
    session.add(user)
    await session.flush()
    return user, plaintext


async def authenticate(
    session: AsyncSession, hasher: PasswordHasher, email: str, password: str
) -> User | None:
    """The user for an email and password, or None. An unknown email costs one hash too (no timing oracle)."""
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    stored = user.password_hash if user is not None and user.password_hash else None
    try:
        hasher.verify(stored or DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if user is None or stored is None:
        return None
    if hasher.check_needs_rehash(stored):
        user.password_hash = hasher.hash(password)
    return user


DUMMY_HASH = PasswordHasher().hash("not-a-password-of-anyone")


async def viewer_of(session: AsyncSession, user: User) -> Viewer:
    rows = await session.execute(
        select(UserRole.workspace_id, UserRole.role).where(UserRole.user_id == user.id)
    )
    return Viewer(user.id, user.email, user.is_owner, {int(ws): str(role) for ws, role in rows.all()})


async def set_role(session: AsyncSession, user: User, workspace: Workspace, role: str | None) -> None:
    """Grant ``role`` in the workspace (replacing any other), or remove access when None."""
    if role is not None and role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    await session.execute(
        delete(UserRole).where(UserRole.user_id == user.id, UserRole.workspace_id == workspace.id)
    )
    if role is not None:
        session.add(UserRole(user_id=user.id, workspace_id=workspace.id, role=role))
    await session.flush()


async def get_user(session: AsyncSession, email: str) -> User:
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user {email!r}")
    return user


async def access_list(session: AsyncSession, workspace: Workspace) -> list[tuple[str, str]]:
    rows = await session.execute(
        select(User.email, UserRole.role)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.workspace_id == workspace.id)
        .order_by(User.email)
    )
    return [(email, role) for email, role in rows.all()]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(session: AsyncSession, user: User, lifetime: timedelta) -> tuple[str, str]:
    """A fresh session (token, CSRF token). Always new at login, so a planted token never becomes valid."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        LoginSession(token_hash=token_hash(token), user_id=user.id, csrf=csrf, expires_at=now + lifetime)
    )
    user.last_login_at = now
    await session.flush()
    return token, csrf


async def find_session(session: AsyncSession, token: str) -> tuple[User, LoginSession] | None:
    row = await session.execute(
        select(User, LoginSession)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(LoginSession.token_hash == token_hash(token))
    )
    found = row.first()
    if found is None:
        return None
    user, login = found
    expires = (
        login.expires_at if login.expires_at.tzinfo else login.expires_at.replace(tzinfo=utcnow().tzinfo)
    )
    return None if expires <= utcnow() else (user, login)


async def end_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(LoginSession).where(LoginSession.token_hash == token_hash(token)))


async def sso_user(session: AsyncSession, subject: str, email: str) -> User:
    """The user of an SSO subject, created (no password) on first sign-in, linked by email if local."""
    user = await session.scalar(select(User).where(User.sso_subject == subject))
    if user is None:
        user = await session.scalar(select(User).where(User.email == check_email(email)))
    if user is None:
        user = User(email=check_email(email), password_hash=None, is_owner=False)
        session.add(user)
    user.sso_subject = subject
    await session.flush()
    return user
