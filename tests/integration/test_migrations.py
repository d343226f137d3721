"""Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from core.db import make_engine
from core.tables import Base
from hub.migrate import current, head, upgrade


def schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_upgrade_to_head_matches_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await upgrade(engine)
        assert await current(engine) == head()
        async with engine.connect() as conn:
            assert await conn.run_sync(schema_diff) == []
        await upgrade(engine)  # idempotent
    finally:
        await engine.dispose()
