"""GDPR erasure end to end: a person asks through REST (their API key) and through a signed Slack slash
command answered by a real arq worker; an admin erases them over REST; then nothing of the person is left
in the SQLite file, in Redis, in the Chroma metadata of the workspace's collections, or in the JSON log
lines the app wrote (at the default INFO level) while all of it happened."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from arq.constants import result_key_prefix
from arq.jobs import serialize_result
from pydantic import SecretStr
from sqlalchemy import select

from core import apikeys
from core.embeddings import MiniLMEmbedder
from core.people import Identity
from core.tables import Workspace
from core.vectors import collection_name, connect
from hub import protection
from hub.settings import Settings, SlackSettings
from tests.e2e.conftest import SECRET, World, chat_hub, populate, text_of
from tests.fakes.slack import fake_slack
from tests.protect.test_data_protection import dump_database, dump_redis, open_with
from tests.support.logs import CapturedLogs, captured_logs
from tests.support.workers import flush

EMAIL = "quilla.vantreeck@example.com"
ANA = "UQUILLA7"  # her Slack user id
BOB = "UBOBCTRL"  # someone else, who must be left alone
SLACK_QUESTION = "How does quilla get VPN access for the marmalade-heron offsite?"
REST_QUESTION = "Where is the VPN portal for quilla's zanzibar-quokka laptop?"
BOB_QUESTION = "How does bob request VPN access for the pelican-fjord team?"


@dataclass
class Scene:
    world: World
    logs: CapturedLogs
    settings: Settings
    ana_key: str
    ana_subject: str
    admin_key: str


@pytest.fixture
async def scene(
    settings: Settings, embedder: MiniLMEmbedder, redis_url: str, chroma_server: str
) -> AsyncIterator[Scene]:
    """The Slack world of tests/e2e (app + worker + fake Slack), with every log line captured as JSON at
    the default level, from before the app starts to after it stops."""
    team = f"T{uuid.uuid4().hex[:8].upper()}"
    with captured_logs(level=Settings().log_level) as logs:
        async with fake_slack() as fake:
            fake.emails[ANA] = EMAIL
            configured = settings.model_copy(
                update={
                    "redis_url": redis_url,
                    "chroma_url": chroma_server,
                    "slack": SlackSettings(
                        signing_secret=SecretStr(SECRET),
                        bot_token=SecretStr("xoxb-test"),
                        api_url=fake.api_url,
                    ),
                }
            )
            async with chat_hub(configured, embedder) as (live, _):
                world = World(live, fake, httpx.AsyncClient(base_url=live.base_url, timeout=30), team)
                await populate(world)
                async with live.services.sessions.begin() as session:
                    alpha = await session.scalar(select(Workspace).where(Workspace.name == "alpha"))
                    assert alpha is not None
                    ana_row, ana_key = await apikeys.create(session, alpha, "viewer", name="personal key")
                    _, admin_key = await apikeys.create(session, alpha, "admin")
                subject = apikeys.Principal(ana_row.id, alpha.id, "viewer").subject
                try:
                    yield Scene(world, logs, configured, ana_key, subject, admin_key)
                finally:
                    await world.http.aclose()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def chroma_metadata(chroma_url: str, workspaces: list[Workspace]) -> bytes:
    """Every id, metadata and document stored in these workspaces' Chroma collections, as bytes."""
    client = connect(chroma_url=chroma_url, path=None)
    names = {c.name for c in await asyncio.to_thread(client.list_collections)}
    out = b""
    for workspace in workspaces:
        if collection_name(workspace.uid) not in names:
            continue
        collection = await asyncio.to_thread(client.get_collection, collection_name(workspace.uid))
        got = await asyncio.to_thread(collection.get, include=["metadatas", "documents"])
        out += json.dumps([got["ids"], got["metadatas"], got["documents"]], default=str).encode()
    return out


@pytest.mark.slow
async def test_after_a_gdpr_delete_nothing_of_the_person_is_anywhere(scene: Scene) -> None:
    world = scene.world
    assert "IT portal" in text_of(await world.command(SLACK_QUESTION, user=ANA))
    assert "IT portal" in text_of(await world.command(BOB_QUESTION, user=BOB))
    asked = await world.http.post(
        "/api/v1/workspaces/alpha/ask", json={"question": REST_QUESTION}, headers=auth(scene.ana_key)
    )
    assert asked.status_code == 200, asked.text
    person = {
        "email": EMAIL,
        "accounts": [
            {"platform": "slack", "user_id": ANA},
            {"platform": "api", "user_id": scene.ana_subject},
        ],
    }
    exported = await world.http.post(
        "/api/v1/workspaces/alpha/people/export", json=person, headers=auth(scene.admin_key)
    )
    assert exported.status_code == 200, exported.text
    assert {q["question"] for q in exported.json()["questions"]} == {SLACK_QUESTION, REST_QUESTION}

    deleted = await world.http.post(
        "/api/v1/workspaces/alpha/people/delete", json=person, headers=auth(scene.admin_key)
    )
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["questions"] == 2 and deleted.json()["cached_answers"] >= 1

    services = world.live.services
    async with services.sessions() as session:
        spaces = list((await session.scalars(select(Workspace))).all())
    await services.engine.dispose()  # SQLite: checkpoint the WAL into the file we read
    stored = {
        "database": dump_database(scene.settings),
        "redis": await dump_redis(world.live.services.settings.redis_url or ""),
        "chroma": await chroma_metadata(scene.settings.chroma_url or "", spaces),
        "logs": scene.logs.stream.getvalue().encode(),
    }
    assert all(stored.values()), [where for where, held in stored.items() if not held]
    events = [str(record["event"]) for record in scene.logs.records()]  # every line is JSON
    assert any(e.endswith(":answer_slack(…)") for e in events)  # the worker's lines were captured too
    [erased] = scene.logs.events("person erased")
    assert erased["wal_purged"] is True and erased["questions"] == 2  # the WAL's old pages are gone too
    traces = [EMAIL, ANA, "marmalade-heron", "zanzibar-quokka", "quilla"]
    found = [(trace, where) for trace in traces for where, held in stored.items() if trace.encode() in held]
    assert found == [], found
    assert b"pelican-fjord" in stored["database"] and BOB.encode() in stored["database"]  # others are kept


async def test_erasure_removes_arq_result_records_that_name_the_person(
    settings: Settings, embedder: MiniLMEmbedder, redis_url: str
) -> None:
    """A failed job's result record keeps its arguments for an hour (arq's default): erasure finds them."""
    await flush(redis_url)
    configured = settings.model_copy(update={"redis_url": redis_url})
    async for services in open_with(configured, embedder):
        assert services.redis is not None
        turn = {"kind": "command", "body": {"user_id": ANA, "text": SLACK_QUESTION}}
        failed = (3, 0, False, RuntimeError("gave up"), 0, 0, "j:answer_slack", "arq:queue")
        hers = serialize_result("answer_slack", (turn,), {}, *failed, "j1")
        theirs = serialize_result("answer_slack", ({"body": {"user_id": BOB}},), {}, *failed, "j2")
        assert hers is not None and theirs is not None
        await services.redis.set(f"{result_key_prefix}j1", hers)
        await services.redis.set(f"{result_key_prefix}j2", theirs)
        counts = await protection.erase_person(services, Identity(EMAIL, (("slack", ANA),)))
        assert counts["redis_keys"] == 1
        assert await services.redis.exists(f"{result_key_prefix}j1") == 0
        assert await services.redis.exists(f"{result_key_prefix}j2") == 1
