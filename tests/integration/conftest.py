"""Fixtures for connector tests: services whose connectors may reach loopback fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.embeddings import MiniLMEmbedder
from hub.container import Services, open_services
from hub.migrate import upgrade
from hub.settings import ConnectorSettings, Settings


@pytest.fixture
async def conn_services(
    database_url: str, settings: Settings, embedder: MiniLMEmbedder
) -> AsyncIterator[Services]:
    """SQLite and PostgreSQL services whose connectors may reach loopback fakes."""
    configured = settings.model_copy(
        update={"database_url": database_url, "connectors": ConnectorSettings(allow_private_urls=True)}
    )
    async with open_services(configured, embedder=embedder, with_redis=False) as opened:
        await upgrade(opened.engine)
        yield opened
