"""The metadata engine's pool and its autocommit sessions, on real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from sqlalchemy import select, text

from core import db, workspaces
from core.db import autocommit, make_engine, make_sessions
from core.tables import Workspace
from hub.errors import is_outage
from hub.migrate import upgrade


async def backend_pid(sessions: db.Sessions) -> int:
    async with sessions() as session:
        pid = await session.scalar(text("SELECT pg_backend_pid()"))
    assert isinstance(pid, int)
    return pid


async def terminate(admin: db.Sessions, pid: int) -> None:
    async with autocommit(admin) as session:
        assert await session.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


async def test_an_idle_connection_that_died_is_replaced_before_use(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled connection idle past PING_AFTER_IDLE_S is pinged at checkout; a dead one (its server
    backend terminated, as in a PostgreSQL restart) is replaced and the session never sees it."""
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.05)
    engine, admin_engine = make_engine(postgres_url, pool_size=1), make_engine(postgres_url, pool_size=1)
    sessions, admin = make_sessions(engine), make_sessions(admin_engine)
    try:
        before = await backend_pid(sessions)
        await terminate(admin, before)
        await asyncio.sleep(0.1)
        assert await backend_pid(sessions) != before
    finally:
        await engine.dispose()
        await admin_engine.dispose()


async def test_a_busy_connection_that_died_fails_once_then_the_pool_reconnects(postgres_url: str) -> None:
    """The other side of the trade: a connection used a moment ago is not pinged, so if its server went
    away the statement fails (as an outage: a 503, a retried job); the pool then replaces it."""
    engine, admin_engine = make_engine(postgres_url, pool_size=1), make_engine(postgres_url, pool_size=1)
    sessions, admin = make_sessions(engine), make_sessions(admin_engine)
    try:
        before = await backend_pid(sessions)
        await terminate(admin, before)
        with pytest.raises(Exception) as failed:
            await backend_pid(sessions)
        assert is_outage(failed.value)
        assert await backend_pid(sessions) != before
    finally:
        await engine.dispose()
        await admin_engine.dispose()


async def test_only_a_connection_idle_past_the_threshold_is_pinged(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checkouts in quick succession (a loaded process) make no ping; one after a pause makes one."""
    pings: list[object] = []
    real_ping = db.ping

    def counted(connection: object) -> None:
        pings.append(connection)
        real_ping(connection)

    monkeypatch.setattr(db, "ping", counted)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.2)
    engine = make_engine(postgres_url, pool_size=1)
    sessions = make_sessions(engine)
    try:
        for _ in range(5):
            await backend_pid(sessions)
        assert pings == []
        await asyncio.sleep(0.3)
        await backend_pid(sessions)
        assert len(pings) == 1
    finally:
        await engine.dispose()


async def test_autocommit_runs_each_statement_in_its_own_transaction(postgres_url: str) -> None:
    """now() is the transaction's start: equal across statements of one transaction, later for each
    statement in autocommit (so no BEGIN/ROLLBACK round trips were made around them)."""
    engine = make_engine(postgres_url)
    sessions = make_sessions(engine)
    try:
        async with sessions() as session:
            first = await session.scalar(text("SELECT now()"))
            await asyncio.sleep(0.02)
            assert await session.scalar(text("SELECT now()")) == first
        async with autocommit(sessions) as session:
            first = await session.scalar(text("SELECT now()"))
            await asyncio.sleep(0.02)
            second = await session.scalar(text("SELECT now()"))
            assert isinstance(first, datetime) and isinstance(second, datetime) and second > first
        async with sessions() as session:  # the pool gave back its default: a transaction again
            first = await session.scalar(text("SELECT now()"))
            await asyncio.sleep(0.02)
            assert await session.scalar(text("SELECT now()")) == first
    finally:
        await engine.dispose()


async def test_a_write_in_an_autocommit_session_is_kept(database_url: str) -> None:
    """Both engines: a write made through ``autocommit`` (the API key's last use) is committed."""
    engine = make_engine(database_url)
    sessions = make_sessions(engine)
    try:
        await upgrade(engine)
        async with sessions.begin() as session:
            await workspaces.create(session, "kept")
        async with autocommit(sessions) as session:
            found = await session.scalar(select(Workspace).where(Workspace.name == "kept"))
            assert found is not None
            await session.execute(text("UPDATE workspaces SET index_version = 7 WHERE name = 'kept'"))
        async with sessions() as session:
            assert await session.scalar(select(Workspace.index_version).where(Workspace.name == "kept")) == 7
    finally:
        await engine.dispose()


async def test_request_path_reads_see_each_commit_and_never_write(database_url: str) -> None:
    """Both engines, through ``make_reads`` (on SQLite its own connections in threads): every read sees
    what was committed before it, entities come back usable after their session, and a write through
    the read path fails rather than landing."""
    engine = make_engine(database_url)
    sessions = make_sessions(engine)
    reads = db.make_reads(engine, sessions)
    version_of_read = select(Workspace.index_version).where(Workspace.name == "read")
    try:
        await upgrade(engine)
        async with sessions.begin() as session:
            await workspaces.create(session, "read")
        [first] = await reads.entities(select(Workspace).where(Workspace.name == "read"))
        assert first[0].name == "read" and first[0].index_version == 0
        for version in (5, 6):  # a later commit is seen by the very next read, not a stale snapshot
            async with sessions.begin() as session:
                await session.execute(
                    text("UPDATE workspaces SET index_version = :v WHERE name = 'read'"), {"v": version}
                )
            assert (
                await reads.scalar(select(Workspace.index_version).where(Workspace.name == "read")) == version
            )
        assert await reads.entities(select(Workspace).where(Workspace.name == "other")) == []
        assert await reads.scalar(select(Workspace.id).where(Workspace.name == "other")) is None
        if engine.dialect.name == "sqlite":
            with pytest.raises(Exception, match="readonly"):
                await reads.rows(text("UPDATE workspaces SET index_version = 9"))
            assert await reads.scalar(version_of_read) == 6
    finally:
        await reads.close()
        await engine.dispose()
