"""Async engine and sessions for the metadata DB (SQLite via aiosqlite, or PostgreSQL via asyncpg)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

Sessions = async_sessionmaker[AsyncSession]


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(
        "PRAGMA secure_delete=ON"
    )  # deleted rows (a GDPR erasure) are zeroed, not left in free pages
    cursor.close()


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """One engine per process. SQLite gets WAL (readers never block the writer) and a busy timeout."""
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def make_sessions(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, expire_on_commit=False)


async def purge_deleted(engine: AsyncEngine) -> bool:
    """SQLite: move the WAL (which still holds pages as they were before a deletion) into the database file
    and truncate it, so erased rows are gone from disk too. True when done; False when readers kept part of
    the WAL (SQLite retries at its next checkpoint) or on PostgreSQL, where deleted rows are not in dumps."""
    if engine.dialect.name != "sqlite":
        return False
    async with engine.connect() as connection:
        row = (await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).first()
    return row is not None and row[0] == 0
