"""Async engine and sessions for the metadata DB (SQLite via aiosqlite, or PostgreSQL via asyncpg)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

Sessions = async_sessionmaker[AsyncSession]

# A pooled PostgreSQL connection idle for longer than this is checked with one round trip before use.
PING_AFTER_IDLE_S = 1.0


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


def _checked_in(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Check a connection that sat idle (a server restart or a dropped link shows up here, and the pool
    then opens a new one) with one round trip. SQLAlchemy's ``pool_pre_ping`` pings every checkout with
    three (BEGIN, ping, ROLLBACK): under load that was ~7% of a web process's CPU, for connections used
    milliseconds before. A connection that died while busy fails its statement instead; the pool then
    replaces every connection older than that failure."""
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
        return
    try:
        ping(dbapi_connection)
    except Exception as exc:
        raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc


def ping(dbapi_connection: Any) -> None:
    """One round trip on the driver's connection, outside any transaction."""
    dbapi_connection.run_async(lambda connection: connection.fetchrow(";"))


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """One engine per process. SQLite gets WAL (readers never block the writer) and a busy timeout;
    PostgreSQL a pool that pings connections that were idle."""
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size)
    event.listen(engine.sync_engine.pool, "checkin", _checked_in)
    event.listen(engine.sync_engine.pool, "checkout", _ping_if_idle)
    return engine


def make_sessions(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, expire_on_commit=False)


@contextlib.asynccontextmanager
async def autocommit(sessions: Sessions) -> AsyncIterator[AsyncSession]:
    """A session whose every statement is its own transaction, for the short reads (and the odd one-row
    write) on the request path. On PostgreSQL that saves the BEGIN and COMMIT/ROLLBACK round trips a session
    otherwise makes around them. SQLite's driver begins no transaction for a read anyway, and a write
    there is committed when the block ends."""
    async with sessions.begin() as session:
        if session.bind is not None and session.bind.dialect.name != "sqlite":
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session


async def purge_deleted(engine: AsyncEngine) -> bool:
    """SQLite: move the WAL (which still holds pages as they were before a deletion) into the database file
    and truncate it, so erased rows are gone from disk too. True when done; False when readers kept part of
    the WAL (SQLite retries at its next checkpoint) or on PostgreSQL, where deleted rows are not in dumps."""
    if engine.dialect.name != "sqlite":
        return False
    async with engine.connect() as connection:
        row = (await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).first()
    return row is not None and row[0] == 0
