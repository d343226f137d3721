"""Schema migrations (Alembic) for SQLite and PostgreSQL, run on our async engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import ConfigError

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise ConfigError(f"migrations have {len(heads)} heads; merge them")
    return heads[0]


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def ensure_schema(engine: AsyncEngine) -> None:
    """SQLite migrates itself; PostgreSQL refuses to start on an old schema (an operator upgrades it)."""
    if engine.dialect.name == "sqlite":
        await upgrade(engine)
        return
    found, wanted = await current(engine), head()
    if found != wanted:
        raise ConfigError(
            f"the database schema is at {found or 'nothing'}, this version needs {wanted}: "
            "run `switchboard db upgrade`"
        )
