"""Shared plumbing of the CLI commands: settings, async running, clean failures."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from rich.console import Console

from core.errors import SwitchboardError
from hub.container import Services, open_services
from hub.logging import configure_logging
from hub.migrate import ensure_schema
from hub.settings import Settings

P = ParamSpec("P")
T = TypeVar("T")


def err() -> Console:
    """Where progress and errors go, so stdout stays clean for results (and --json)."""
    return Console(stderr=True)


def fail(message: str) -> None:
    err().print(f"[red]error:[/red] {message}")
    raise SystemExit(1)


def runs_async(fn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, T | None]:
    """Run an async command; a SwitchboardError becomes a clear message and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T | None:
        try:
            return asyncio.run(fn(*args, **kwargs))
        except SwitchboardError as exc:
            fail(str(exc))
        return None

    return wrapper


def load_settings() -> Settings:
    """The process's settings, built once per command; logging is configured from them here."""
    try:
        settings = Settings()
    except ValueError as exc:
        fail(f"invalid settings: {exc}")
        raise  # unreachable: fail() exits
    configure_logging(settings)
    return settings


@contextlib.asynccontextmanager
async def opened(settings: Settings, *, many_searches: bool = False) -> AsyncIterator[Services]:
    """Services for a one-shot command; the schema is migrated (SQLite) or checked (PostgreSQL) first.

    Unless the command runs ``many_searches``, BM25 is scored in SQL: loading a workspace's keyword index
    into memory costs more than the few searches of a command.
    """
    if not many_searches:
        retrieval = settings.retrieval.model_copy(update={"keyword_in_memory": False})
        settings = settings.model_copy(update={"retrieval": retrieval})
    async with open_services(settings, with_redis=False) as services:
        await ensure_schema(services.engine)
        yield services
