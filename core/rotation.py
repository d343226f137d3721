"""Secrets at rest: every encrypted column, and re-encryption under the newest key (``keys rotate``).

``MultiFernet.rotate`` decrypts with any configured key and encrypts with the first, so after a rotation
every stored token opens with the first key alone and older keys can be dropped from the settings.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import MultiFernet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.protect_tables import WebhookSubscription
from core.tables import ChatInstallation, Source

# (table, column) of every Fernet-encrypted value.
ENCRYPTED: tuple[tuple[Any, str], ...] = (
    (Source, "secret"),
    (ChatInstallation, "secret"),
    (WebhookSubscription, "secret"),
)


async def rotate(session: AsyncSession, fernet: MultiFernet) -> dict[str, int]:
    """Re-encrypt every stored secret under the newest key; returns how many per table."""
    counts: dict[str, int] = {}
    for table, column in ENCRYPTED:
        rows = (await session.scalars(select(table).where(getattr(table, column).is_not(None)))).all()
        for row in rows:
            setattr(row, column, fernet.rotate(getattr(row, column).encode()).decode())
        counts[table.__tablename__] = len(rows)
    await session.flush()
    return counts


async def verify(session: AsyncSession, fernet: MultiFernet) -> int:
    """Decrypt every stored secret (raises ``InvalidToken`` on the first that no key opens); the count."""
    opened = 0
    for table, column in ENCRYPTED:
        for value in (
            await session.scalars(select(getattr(table, column)).where(getattr(table, column).is_not(None)))
        ).all():
            fernet.decrypt(str(value).encode())
            opened += 1
    return opened
