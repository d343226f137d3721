"""Shared fixtures: real SQLite and PostgreSQL, real Redis/Valkey, real Chroma, the real embedding model."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from core.embeddings import MiniLMEmbedder
from hub.container import Services, open_services
from hub.migrate import upgrade
from hub.runtime import EmbeddedChroma, EmbeddedValkey
from hub.settings import Settings

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = SHARED / "fixtures"


def service_missing(name: str) -> None:
    """Skip, or fail when CI says every service must be there."""
    message = f"{name} is not configured (set SWITCHBOARD_TEST_{name.upper()}_URL)"
    if os.environ.get("SWITCHBOARD_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def pg_admin_url() -> str | None:
    url = os.environ.get("SWITCHBOARD_TEST_DATABASE_URL")
    return url.replace("postgresql+asyncpg://", "postgresql://") if url else None


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin = pg_admin_url()
    if admin is None:
        service_missing("database")
        raise AssertionError("unreachable")
    name = f"sb_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = os.environ["SWITCHBOARD_TEST_DATABASE_URL"].rsplit("/", 1)[0]
    yield f"{base}/{name}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs on both engines."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=None, redis_url=None, chroma_url=None)


@pytest.fixture
async def services(settings: Settings, embedder: MiniLMEmbedder) -> AsyncIterator[Services]:
    """SQLite + embedded Chroma, migrated."""
    async with open_services(settings, embedder=embedder, with_redis=False) as opened:
        await upgrade(opened.engine)
        yield opened


@pytest.fixture
async def any_services(
    database_url: str, settings: Settings, embedder: MiniLMEmbedder
) -> AsyncIterator[Services]:
    """The same services on SQLite and on PostgreSQL (parametrized through ``database_url``)."""
    configured = settings.model_copy(update={"database_url": database_url})
    async with open_services(configured, embedder=embedder, with_redis=False) as opened:
        await upgrade(opened.engine)
        yield opened


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server (``chroma run``) for server-mode tests."""
    server = EmbeddedChroma(tmp_path_factory.mktemp("chroma-server"))
    url = server.start()
    yield url
    server.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The CI Redis when configured; otherwise a private Valkey (unless services are required)."""
    configured = os.environ.get("SWITCHBOARD_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    if os.environ.get("SWITCHBOARD_REQUIRE_SERVICES") == "1":
        pytest.fail("SWITCHBOARD_TEST_REDIS_URL is required")
    valkey = EmbeddedValkey(tmp_path_factory.mktemp("valkey"))
    yield valkey.start()
    valkey.stop()
