"""Data protection on real SQLite and PostgreSQL (and real Redis): no plaintext secret at rest, key
rotation that lets the old key go, GDPR export and erasure, and retention that deletes only what is due."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import func, select

from core import audit, retention, rotation, workspaces
from core.account_tables import AuditEvent
from core.embeddings import MiniLMEmbedder
from core.people import Identity
from core.ratelimit import Rate, RateLimiter
from core.tables import (
    AnswerFeedback,
    AnswerLog,
    ChatAnswer,
    ChatInstallation,
    Collection,
    ConversationTurn,
    LLMCall,
    Source,
    Workspace,
    utcnow,
)
from hub import protection
from hub.cli import cli
from hub.container import Services, open_services
from hub.migrate import upgrade
from hub.outbound import guard
from hub.settings import Settings
from tests.conftest import pg_admin_url
from tests.support.workers import flush
from webhooks import outbound

SOURCE_TOKEN = "confluence-token-7c1f9e0d2b"
INSTALL_TOKEN = "xoxb-install-5a6b7c8d9e"
EMAIL = "ana.lopez@example.com"


async def open_with(settings: Settings, embedder: MiniLMEmbedder) -> AsyncIterator[Services]:
    async with open_services(settings, embedder=embedder) as opened:
        await upgrade(opened.engine)
        yield opened


@pytest.fixture
def old_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def base(tmp_path: Path, database_url: str, redis_url: str, old_key: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        redis_url=redis_url,
        secret_keys=[SecretStr(old_key)],
    )


async def store_secrets(services: Services) -> tuple[Workspace, str]:
    async with services.sessions.begin() as session:
        ws = await workspaces.create(session, "alpha")
        collection = Collection(workspace_id=ws.id, name="wiki")
        session.add(collection)
        await session.flush()
        seal = services.fernet.encrypt
        session.add(
            Source(
                workspace_id=ws.id,
                collection_id=collection.id,
                type="confluence",
                name="wiki",
                secret=seal(SOURCE_TOKEN.encode()).decode(),
            )
        )
        session.add(
            ChatInstallation(platform="slack", team_id="T1", secret=seal(INSTALL_TOKEN.encode()).decode())
        )
        _, webhook_secret = await outbound.subscribe(
            session, services.fernet, guard(services), ws, "https://hooks.example.com/x", ["sync.failed"]
        )
    return ws, webhook_secret


def dump_database(settings: Settings) -> bytes:
    url = settings.resolved_database_url()
    if url.startswith("sqlite"):
        db = Path(url.split("///", 1)[1])
        return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    admin = pg_admin_url()
    assert admin is not None
    target = admin.rsplit("/", 1)[0] + "/" + url.rsplit("/", 1)[1]
    return subprocess.run(["pg_dump", target], check=True, capture_output=True, timeout=60).stdout


async def dump_redis(url: str) -> bytes:
    redis = Redis.from_url(url)
    try:
        out = b""
        async for key in redis.scan_iter(count=500):
            out += key + (await redis.dump(key) or b"")
        return out
    finally:
        await redis.aclose()


async def test_no_plaintext_secret_at_rest_and_rotation_drops_the_old_key(
    base: Settings, redis_url: str, embedder: MiniLMEmbedder, old_key: str
) -> None:
    await flush(redis_url)
    async for services in open_with(base, embedder):
        _, webhook_secret = await store_secrets(services)
        await services.engine.dispose()  # SQLite: checkpoint the WAL into the file we read
    secrets = [SOURCE_TOKEN, INSTALL_TOKEN, webhook_secret]
    stored = dump_database(base) + await dump_redis(redis_url)
    assert stored  # we did read something
    for secret in secrets:
        assert secret.encode() not in stored

    new_key = Fernet.generate_key().decode()
    rotated = base.model_copy(update={"secret_keys": [SecretStr(new_key), SecretStr(old_key)]})
    async for services in open_with(rotated, embedder):
        counts = await protection.rotate_keys(services)
        assert counts == {"sources": 1, "chat_installations": 1, "webhook_subscriptions": 1}

    only_new = base.model_copy(update={"secret_keys": [SecretStr(new_key)]})
    async for services in open_with(only_new, embedder):
        async with services.sessions() as session:
            assert await rotation.verify(session, services.fernet) == 3
            source = await session.scalar(select(Source))
            assert source is not None and source.secret is not None
            assert services.fernet.decrypt(source.secret.encode()).decode() == SOURCE_TOKEN
    only_old = base.model_copy(update={"secret_keys": [SecretStr(old_key)]})
    async for services in open_with(only_old, embedder):
        async with services.sessions() as session:
            with pytest.raises(InvalidToken):
                await rotation.verify(session, services.fernet)


async def add_history(services: Services, ws: Workspace, user: str, question: str, days_ago: int) -> None:
    when = utcnow() - timedelta(days=days_ago)
    async with services.sessions.begin() as session:
        common = {"workspace_id": ws.id, "platform": "slack", "user_id": user, "created_at": when}
        session.add(
            AnswerLog(
                **common,
                question=question,
                answer="a",
                abstained=False,
                confidence=1.0,
                mode="x",
                latency_ms=1.0,
            )
        )
        chat = ChatAnswer(**common, token=os.urandom(8).hex(), question=question, answer="a")
        session.add(chat)
        await session.flush()
        session.add(
            AnswerFeedback(**common, chat_answer_id=chat.id, rating=-1, question=question, answer="a")
        )
        session.add(
            ConversationTurn(
                workspace_id=ws.id,
                conversation_id=f"c-{user}",
                question=question,
                standalone=question,
                answer="a",
                created_at=when,
            )
        )
        session.add(
            LLMCall(
                **common,
                provider="p",
                model="m",
                purpose="answer",
                input_tokens=10,
                output_tokens=5,
                cost_usd=0.01,
            )
        )


async def count(services: Services, table: type, **where: object) -> int:
    async with services.sessions() as session:
        query = select(func.count()).select_from(table).filter_by(**where)
        return int(await session.scalar(query) or 0)


async def test_gdpr_export_and_erase_leave_nothing_of_the_person(
    base: Settings, redis_url: str, embedder: MiniLMEmbedder, tmp_path: Path
) -> None:
    await flush(redis_url)
    async for services in open_with(base, embedder):
        async with services.sessions.begin() as session:
            ws = await workspaces.create(session, "alpha")
        await add_history(services, ws, "U-ANA", "where is ana's payslip", 1)
        await add_history(services, ws, EMAIL, "ana asks over REST", 2)
        await add_history(services, ws, "U-BOB", "bob's own question", 1)
        async with services.sessions.begin() as session:
            for actor, action, target in (
                ("slack:U-ANA", "ask", "where is ana's payslip"),
                (EMAIL, "login", ""),
                ("owner@example.com", "user.create", EMAIL),
                ("slack:U-BOB", "ask", "bob's own question"),
            ):
                audit.append(
                    session, audit.Entry(actor=actor, action=action, workspace="alpha", target=target)
                )
        assert services.redis is not None
        limiter = RateLimiter(services.redis)
        await limiter.hit("slack:T1:user:U-ANA", Rate(10, 60))
        await limiter.hit("slack:T1:user:U-BOB", Rate(10, 60))
        for n, question in enumerate(("Where is Ana's payslip?", "bob's own question")):  # cached answers
            await services.redis.set(
                f"sb:answer:{ws.id}:{n}", json.dumps({"question": question, "answer": "a"})
            )

        who = Identity(EMAIL, (("slack", "U-ANA"),))
        exported = await protection.export_person(services, who)
        assert {q["question"] for q in exported["questions"]} == {
            "where is ana's payslip",
            "ana asks over REST",
        }
        assert len(exported["feedback"]) == 2 and len(exported["conversation_turns"]) == 2
        assert len(exported["llm_calls"]) == 2 and len(exported["chat_answers"]) == 2
        json.dumps(exported)  # JSON-ready

        counts = await protection.erase_person(services, who)
        assert counts["questions"] == 2 and counts["redis_keys"] == 1
        assert counts["audit_events_pseudonymised"] == 3 and counts["cached_answers"] == 1
        again = await protection.export_person(services, who)
        assert all(not rows for key, rows in again.items() if key != "person")
        await services.engine.dispose()
    stored = dump_database(base) + await dump_redis(redis_url)
    for trace in (b"U-ANA", EMAIL.encode(), b"ana's payslip", b"Ana's payslip", b"ana asks"):
        assert trace not in stored, trace
    assert b"U-BOB" in stored and b"bob's own question" in stored  # nobody else was touched
    async for services in open_with(base, embedder):
        assert await count(services, LLMCall) == 3  # costs kept, pseudonymised
        assert await count(services, AnswerLog, user_id="U-BOB") == 1
        async with services.sessions() as session:
            events = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
        assert [e.action for e in events] == ["ask", "login", "user.create", "ask"]  # history stays
        assert events[0].actor == events[1].actor == events[2].target != "owner@example.com"
        assert events[0].actor.startswith("erased:") and events[0].target == "[erased]"


async def test_retention_deletes_what_is_past_its_date_and_nothing_else(
    base: Settings, embedder: MiniLMEmbedder
) -> None:
    async for services in open_with(base, embedder):
        async with services.sessions.begin() as session:
            alpha = await workspaces.create(session, "alpha")
            beta = await workspaces.create(session, "beta")
            await retention.set_policy(session, alpha, questions_days=30, conversations_days=7)
        await add_history(services, alpha, "U1", "old alpha", 40)
        await add_history(services, alpha, "U1", "mid alpha", 10)
        await add_history(services, alpha, "U1", "new alpha", 1)
        await add_history(services, beta, "U1", "old beta", 400)  # no policy: kept
        counts = await protection.run_retention(services)
        assert counts == {"answer_feedback": 1, "chat_answers": 1, "answer_log": 1, "conversation_turns": 2}
        async with services.sessions() as session:
            questions = set((await session.scalars(select(AnswerLog.question))).all())
            turns = set((await session.scalars(select(ConversationTurn.question))).all())
        assert questions == {"mid alpha", "new alpha", "old beta"}
        assert turns == {"new alpha", "old beta"}
        assert await protection.run_retention(services) == {
            "answer_feedback": 0,
            "chat_answers": 0,
            "answer_log": 0,
            "conversation_turns": 0,
        }


def test_retention_rejects_nonsense_days() -> None:
    from core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        retention.check_days(0)


def test_cli_keys_generate_prints_a_fernet_key() -> None:
    result = CliRunner().invoke(cli, ["keys", "generate"])
    assert result.exit_code == 0
    Fernet(result.output.strip().encode())  # a valid key


async def test_cli_person_export_and_delete(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    async for services in open_with(settings, embedder):
        async with services.sessions.begin() as session:
            ws = await workspaces.create(session, "alpha")
        await add_history(services, ws, "U-ANA", "cli question", 1)
    env = {"SWITCHBOARD_DATA_DIR": str(tmp_path / "var")}
    runner = CliRunner()
    out = tmp_path / "ana.json"
    exported = await asyncio.to_thread(
        runner.invoke, cli, ["person", "export", EMAIL, "--user", "slack:U-ANA", "-o", str(out)], env=env
    )
    assert exported.exit_code == 0, exported.output
    assert json.loads(out.read_text())["questions"][0]["question"] == "cli question"
    deleted = await asyncio.to_thread(
        runner.invoke, cli, ["person", "delete", EMAIL, "--user", "slack:U-ANA", "--yes"], env=env
    )
    assert deleted.exit_code == 0, deleted.output
    assert "1 questions" in deleted.output
    bad = await asyncio.to_thread(runner.invoke, cli, ["person", "export", "not-an-email"], env=env)
    assert bad.exit_code != 0
