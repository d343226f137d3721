"""Shared plumbing of the CLI commands: settings, async running, clean failures."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable, Coroutine
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


async def services_for(settings: Settings) -> Any:
    """Open services and bring the schema up to date (SQLite) or check it (PostgreSQL)."""
    manager = open_services(settings, with_redis=False)
    services: Services = await manager.__aenter__()
    try:
        await ensure_schema(services.engine)
    except BaseException:
        await manager.__aexit__(*sys.exc_info())
        raise
    return manager, services
