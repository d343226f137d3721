"""Admission control: N answers at once, a bounded queue behind them, an immediate 503 beyond it."""

from __future__ import annotations

import asyncio

import pytest

from core.errors import TransientError
from hub.admission import Admission
from hub.errors import status_for


async def test_runs_n_queues_m_and_refuses_the_rest_at_once() -> None:
    admission = Admission(running=1, waiting=1)
    release = asyncio.Event()
    order: list[str] = []

    async def ask(name: str) -> None:
        async with admission.slot():
            order.append(name)
            await release.wait()

    first = asyncio.create_task(ask("first"))
    await asyncio.sleep(0)
    queued = asyncio.create_task(ask("queued"))
    await asyncio.sleep(0)
    with pytest.raises(TransientError) as refused:
        async with admission.slot():
            pass
    assert status_for(refused.value) == 503 and refused.value.retry_after_s == 1
    assert order == ["first"]
    release.set()
    await asyncio.gather(first, queued)
    assert order == ["first", "queued"]
    async with admission.slot():  # every slot was given back
        pass


async def test_a_cancelled_waiter_gives_its_queue_place_back() -> None:
    admission = Admission(running=1, waiting=1)
    hold = asyncio.Event()

    async def holder() -> None:
        async with admission.slot():
            await hold.wait()

    running = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    queued_again = asyncio.create_task(holder())  # the freed queue place is usable
    await asyncio.sleep(0)
    hold.set()
    await asyncio.gather(running, queued_again)
    assert queued_again.done() and queued_again.exception() is None
