"""Async engine and sessions for the metadata DB (SQLite via aiosqlite, or PostgreSQL via asyncpg)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import URL, Engine, Executable, Row, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session

Sessions = async_sessionmaker[AsyncSession]
AnyRow = Row[*tuple[Any, ...]]
Params = Mapping[str, Any]

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


class Reads(ABC):
    """The short reads on the request path (an API key, a keyword generation, the rows of a search's
    hits): each statement is its own transaction and sees what was committed before it began."""

    @abstractmethod
    async def rows(self, statement: Executable, params: Params | None = None) -> Sequence[AnyRow]:
        """Rows of a statement that selects columns, not entities."""

    @abstractmethod
    async def entities(self, statement: Executable, params: Params | None = None) -> Sequence[AnyRow]:
        """Rows of ORM entities: detached, their columns loaded."""

    async def scalar(self, statement: Executable, params: Params | None = None) -> Any:
        found = await self.rows(statement, params)
        return found[0][0] if found else None

    async def close(self) -> None:
        return None


class SessionReads(Reads):
    """Reads through the async engine: PostgreSQL, where asyncpg makes one round trip per statement."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def rows(self, statement: Executable, params: Params | None = None) -> Sequence[AnyRow]:
        async with autocommit(self._sessions) as session:
            return (await session.execute(statement, params)).all()

    async def entities(self, statement: Executable, params: Params | None = None) -> Sequence[AnyRow]:
        return await self.rows(statement, params)


class ThreadedSQLiteReads(Reads):
    """Reads that run whole, statement and fetch, on pooled sqlite3 connections in a few threads of
    their own. Through aiosqlite every driver call of a statement (cursor, execute, fetch, close, the
    pool's reset) is a hop to the connection's thread and back through the event loop: about 1 ms of a
    web process's CPU per statement, against about 0.1 ms in one hop. WAL lets these connections read
    while another writes; ``query_only`` keeps them from ever writing."""

    def __init__(self, url: URL, *, threads: int = 4) -> None:
        self._engine: Engine = create_engine(
            url.set(drivername="sqlite+pysqlite"),
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=threads,
            max_overflow=0,
        )
        event.listen(self._engine, "connect", _read_only_pragmas)
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="sqlite-reads")

    def _rows(self, statement: Executable, params: Params | None) -> Sequence[AnyRow]:
        with self._engine.connect() as connection:  # no ORM session: a third of the cost of a read
            return connection.execute(statement, params).all()

    def _entities(self, statement: Executable, params: Params | None) -> Sequence[AnyRow]:
        with Session(self._engine) as session:
            return session.execute(statement, params).all()

    async def rows(self, statement: Executable, params: Params | None = None) -> Sequence[AnyRow]:
        return await asyncio.get_running_loop().run_in_executor(self._threads, self._rows, statement, params)

    async def entities(self, statement: Executable, params: Params | None = None) -> Sequence[AnyRow]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._entities, statement, params)

    async def close(self) -> None:
        await asyncio.to_thread(self._threads.shutdown)
        self._engine.dispose()


def _read_only_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def make_reads(engine: AsyncEngine, sessions: Sessions) -> Reads:
    if engine.dialect.name == "sqlite":
        return ThreadedSQLiteReads(engine.url)
    return SessionReads(sessions)


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
