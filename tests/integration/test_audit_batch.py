"""The search audit written in batches: every entry lands, in one transaction per batch, after an outage
too, and whatever is pending is written when the process stops in order."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from core import audit
from core.account_tables import AuditEvent
from hub.container import Services


def entry(n: int) -> audit.Entry:
    return audit.Entry(actor=f"api:apikey:{n}", action="search", workspace="alpha", target=f"q{n}")


async def written(services: Services) -> list[str]:
    async with services.sessions() as session:
        return list((await session.scalars(select(AuditEvent.target).order_by(AuditEvent.id))).all())


async def written_soon(services: Services, count: int, timeout_s: float = 10.0) -> list[str]:
    """The written targets once there are ``count`` of them (or the deadline passed)."""
    found: list[str] = []
    for _ in range(int(timeout_s / 0.02)):
        found = await written(services)
        if len(found) >= count:
            break
        await asyncio.sleep(0.02)
    return found


class FlakySessions:
    """The real session factory, whose ``begin`` fails while ``down`` (a database outage); counts writes."""

    def __init__(self, services: Services) -> None:
        self._sessions = services.sessions
        self.down = False
        self.transactions = 0

    def begin(self) -> Any:
        if self.down:
            raise OperationalError("INSERT", {}, ConnectionRefusedError("database is down"))
        self.transactions += 1
        return self._sessions.begin()


async def test_entries_added_together_are_written_in_one_transaction(services: Services) -> None:
    sessions = FlakySessions(services)
    batched = audit.BatchedAuditLog(sessions, delay_s=0.05)  # type: ignore[arg-type]
    for n in range(40):
        batched.add(entry(n))
    assert await written(services) == []  # not on the request path
    assert await written_soon(services, 40) == [f"q{n}" for n in range(40)]
    assert sessions.transactions == 1


async def test_an_outage_keeps_entries_until_the_database_is_back(services: Services) -> None:
    sessions = FlakySessions(services)
    sessions.down = True
    batched = audit.BatchedAuditLog(sessions, delay_s=0.01, retry_s=0.05)  # type: ignore[arg-type]
    batched.add(entry(1))
    await asyncio.sleep(0.2)
    batched.add(entry(2))  # while the writer retries
    assert await written(services) == []
    sessions.down = False
    assert await written_soon(services, 2) == ["q1", "q2"]


async def test_pending_entries_are_written_at_an_orderly_stop(services: Services) -> None:
    async with audit.BatchedAuditLog(services.sessions, delay_s=60).closed() as batched:
        batched.add(entry(1))
        batched.add(entry(2))
    assert await written(services) == ["q1", "q2"]


async def test_beyond_the_bound_entries_are_counted_as_dropped_not_kept(services: Services) -> None:
    sessions = FlakySessions(services)
    sessions.down = True
    batched = audit.BatchedAuditLog(sessions, delay_s=0.01, retry_s=0.05, max_pending=3)  # type: ignore[arg-type]
    for n in range(5):
        batched.add(entry(n))
    assert batched.dropped == 2
    sessions.down = False
    assert await written_soon(services, 3) == ["q0", "q1", "q2"]
    await asyncio.sleep(0.2)  # and no more than those
    async with services.sessions() as session:
        assert await session.scalar(select(func.count(AuditEvent.id))) == 3
