"""API keys: shown once, stored as a SHA-256 hash (keys are 256-bit random), scoped to workspace and role."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Reads, Sessions, autocommit
from core.errors import InvalidInput, NotFound
from core.models import ROLES
from core.tables import ApiKey, Workspace, as_utc, utcnow

KEY_PREFIX = "sb"
# last use is recorded at most this often per key: every request writing the key's one row serialised
# all requests of a busy key on that row's lock and used up the connection pool (found by bench/load.py)
LAST_USED_EVERY = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated API caller: one workspace, one role (an API key, or a signed-in admin-page user)."""

    key_id: int
    workspace_id: int
    role: str
    actor: str = ""  # who, when not a key: the admin-page user's email

    @property
    def subject(self) -> str:
        """The name audits and answer logs record for this caller."""
        return self.actor or f"apikey:{self.key_id}"

    def allows(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create(
    session: AsyncSession, workspace: Workspace, role: str = "viewer", name: str = ""
) -> tuple[ApiKey, str]:
    """A new key and its plaintext, which is returned only here."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    prefix = secrets.token_hex(4)
    plaintext = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(workspace_id=workspace.id, prefix=prefix, key_hash=_hash(plaintext), role=role, name=name)
    session.add(key)
    await session.flush()
    return key, plaintext


async def authenticate(
    reads: Reads, sessions: Sessions, presented: str, workspace: str
) -> tuple[Principal, Workspace | None] | None:
    """The principal for a presented key, with the workspace of that name if there is one (read in the
    same statement: this runs on every REST call), or None. Constant-time compare; revoked keys fail."""
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    rows = await reads.entities(key_lookup(), {"prefix": parts[1], "workspace": workspace})
    if not rows or not hmac.compare_digest(rows[0][0].key_hash, _hash(presented)):
        return None
    key, found = rows[0][0], rows[0][1]
    if stale(key.last_used_at):
        async with autocommit(sessions) as session:
            await session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=utcnow()))
    return Principal(key.id, key.workspace_id, key.role), found


@functools.cache
def key_lookup() -> Select[ApiKey, Workspace]:
    """A live key by prefix, with the workspace named ``workspace`` (if any). Built once, as statements
    are immutable: building it took more of a request's CPU than SQLite takes to run it."""
    return (
        select(ApiKey, Workspace)
        .outerjoin(Workspace, Workspace.name == bindparam("workspace"))
        .where(ApiKey.prefix == bindparam("prefix"), ApiKey.revoked_at.is_(None))
    )


def stale(last_used: datetime | None) -> bool:
    if last_used is None:
        return True
    return utcnow() - as_utc(last_used) >= LAST_USED_EVERY


async def list_keys(session: AsyncSession) -> list[tuple[ApiKey, str]]:
    rows = await session.execute(
        select(ApiKey, Workspace.name)
        .join(Workspace, Workspace.id == ApiKey.workspace_id)
        .order_by(ApiKey.id)
    )
    return [(k, name) for k, name in rows.all()]


async def revoke(session: AsyncSession, prefix: str) -> None:
    key = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None:
        raise NotFound(f"no API key with prefix {prefix!r} (see `switchboard apikey list`)")
    key.revoked_at = key.revoked_at or utcnow()
