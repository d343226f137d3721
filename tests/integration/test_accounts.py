"""Accounts and the audit log on SQLite and PostgreSQL: argon2 hashes, roles, sessions, append-only audit."""

from __future__ import annotations

import inspect
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from core import accounts, audit, workspaces
from core.account_tables import AuditEvent, LoginSession
from core.errors import AlreadyExists, InvalidInput
from core.indexing import IncomingDocument, ingest_all
from core.models import Asker, Question
from core.tables import utcnow
from hub.admin.access_pages import csv_lines
from hub.cli_users import DEMO_OWNER, demo_owner
from hub.container import Services

HASHER = PasswordHasher()


async def test_users_passwords_and_roles(any_services: Services) -> None:
    async with any_services.sessions.begin() as session:
        alpha = await workspaces.create(session, "alpha")
        beta = await workspaces.create(session, "beta")
        user, password = await accounts.create_user(session, HASHER, "Ada@Example.com")
        stored = user.password_hash or ""
        assert user.email == "ada@example.com" and stored.startswith("$argon2id$")
        assert password not in stored
        with pytest.raises(AlreadyExists):
            await accounts.create_user(session, HASHER, "ada@example.com")
        with pytest.raises(InvalidInput):
            await accounts.create_user(session, HASHER, "not-an-email")
        with pytest.raises(InvalidInput):
            await accounts.create_user(session, HASHER, "short@example.com", password="short")
        await accounts.set_role(session, user, alpha, "editor")
    async with any_services.sessions.begin() as session:
        assert await accounts.authenticate(session, HASHER, "ADA@example.com", password) is not None
        assert await accounts.authenticate(session, HASHER, "ada@example.com", password + "x") is None
        assert await accounts.authenticate(session, HASHER, "nobody@example.com", password) is None
        viewer = await accounts.viewer_of(session, await accounts.get_user(session, "ada@example.com"))
    assert viewer.can(alpha.id, "viewer") and viewer.can(alpha.id, "editor")
    assert not viewer.can(alpha.id, "admin") and not viewer.can(beta.id, "viewer")
    assert not viewer.is_any_admin()


async def test_sessions_start_fresh_expire_and_end(any_services: Services) -> None:
    async with any_services.sessions.begin() as session:
        user, _ = await accounts.create_user(session, HASHER, "s@example.com")
        first, csrf = await accounts.start_session(session, user, timedelta(hours=1))
        second, _ = await accounts.start_session(session, user, timedelta(hours=1))
        stale, _ = await accounts.start_session(session, user, timedelta(seconds=-1))
    assert first != second and csrf
    async with any_services.sessions.begin() as session:
        stored = list(await session.scalars(select(LoginSession.token_hash)))
        assert first not in stored and accounts.token_hash(first) in stored  # only hashes are kept
        assert await accounts.find_session(session, first) is not None
        assert await accounts.find_session(session, stale) is None
        await accounts.end_session(session, first)
    async with any_services.sessions() as session:
        assert await accounts.find_session(session, first) is None
        assert await accounts.find_session(session, second) is not None


async def test_every_answer_is_audited_with_its_channel_and_documents(any_services: Services) -> None:
    async with any_services.sessions.begin() as session:
        alpha = await workspaces.create(session, "alpha")
    text = b"# Pager\n\nPage the SRE lead for a SEV1 incident; the bridge is in room 42."
    await ingest_all(any_services.indexer, alpha, [IncomingDocument("pager.md", text, "pager.md")])
    asker = Asker(platform="slack", team_id="T1", channel_id="C9", user_id="U7")
    answer = await any_services.asker.ask(alpha, Question(text="Who do I page for a SEV1?"), asker)
    async with any_services.sessions() as session:
        events = await audit.read(session, audit.Filter(action="ask"), ["alpha"])
        assert await audit.read(session, audit.Filter(action="ask"), ["beta"]) == []
    assert len(events) == 1
    event = events[0]
    assert (event.actor, event.workspace, event.channel) == ("slack:U7", "alpha", "slack:T1/C9")
    assert event.target == "Who do I page for a SEV1?"
    assert not answer.abstained and event.document_ids == ["pager.md"]
    assert event.document_ids == list(dict.fromkeys(c.document_id for c in answer.citations))


async def test_audit_filters_and_csv(any_services: Services) -> None:
    log = audit.AuditLog(any_services.sessions)
    await log.record(audit.Entry(actor="ada@example.com", action="workspace.create", workspace="alpha"))
    await log.record(audit.Entry(actor="bob@example.com", action="apikey.create", workspace="beta"))
    await log.record(audit.Entry(actor="=cmd|' /C calc'!A0", action="login.failed", target="+1"))
    now = utcnow()
    async with any_services.sessions() as session:
        by_person = await audit.read(session, audit.Filter(actor="ada@example.com"), None)
        by_workspace = await audit.read(session, audit.Filter(workspace="beta"), None)
        future = await audit.read(session, audit.Filter(since=now + timedelta(minutes=1)), None)
        past = await audit.read(session, audit.Filter(until=now + timedelta(minutes=1)), None)
        scoped = await audit.read(session, audit.Filter(), ["alpha"])
        rows = await audit.read(session, audit.Filter(), None)
    assert [e.action for e in by_person] == ["workspace.create"]
    assert [e.actor for e in by_workspace] == ["bob@example.com"]
    assert future == [] and len(past) == 3
    assert [e.workspace for e in scoped] == ["alpha"]
    exported = "".join(csv_lines(rows))
    assert exported.splitlines()[0].startswith("id,created_at,actor,workspace,action")
    assert "'=cmd" in exported and ",'+1," in exported  # no spreadsheet formula injection


def test_the_audit_module_has_no_update_or_delete_path() -> None:
    source = inspect.getsource(audit)
    for forbidden in ("update(", "delete(", ".delete", "merge(", "execute("):
        assert forbidden not in source, forbidden


async def test_the_demo_owner_is_created_once(any_services: Services) -> None:
    async with any_services.sessions.begin() as session:
        password = await demo_owner(session)
    async with any_services.sessions.begin() as session:
        assert await demo_owner(session) is None  # printed once: a restart shows nothing
        user = await accounts.authenticate(session, HASHER, DEMO_OWNER, password or "")
    assert user is not None and user.is_owner


async def test_append_only_rows_survive_their_workspace(any_services: Services) -> None:
    async with any_services.sessions.begin() as session:
        gone = await workspaces.create(session, "gone")
        audit.append(session, audit.Entry(actor="ada@example.com", action="channel.map", workspace="gone"))
    async with any_services.sessions.begin() as session:
        await workspaces.remove(session, gone)
    async with any_services.sessions() as session:
        kept = list(await session.scalars(select(AuditEvent).where(AuditEvent.workspace == "gone")))
    assert len(kept) == 1
