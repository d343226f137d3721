"""Load every workspace's in-memory keyword index in the background when a process starts, so the first
searches do not wait for it (at 50k chunks a load takes seconds)."""

from __future__ import annotations

import contextlib
import time

import structlog
from sqlalchemy import select

from core.tables import Workspace
from hub.background import alongside
from hub.container import Services

log = structlog.get_logger(__name__)


async def warm_keywords(services: Services) -> None:
    """Load each workspace's index in turn; a failure only means that workspace loads on first search."""
    async with services.sessions() as session:
        found = list((await session.scalars(select(Workspace).order_by(Workspace.id))).all())
    for workspace in found:
        started = time.perf_counter()
        try:
            await services.retriever.warm(workspace)
        except Exception as exc:
            log.warning("keyword index not preloaded", workspace=workspace.name, error=str(exc))
            continue
        log.info(
            "keyword index loaded", workspace=workspace.name, seconds=round(time.perf_counter() - started, 2)
        )


def keywords_warming(services: Services) -> contextlib.AbstractAsyncContextManager[None]:
    """Warm the keyword indexes while the body runs; stop warming when it ends."""
    return alongside(warm_keywords(services), name="warm-keywords")
