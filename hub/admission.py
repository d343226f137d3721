"""Admission control for answers: at most N computed at once per API process, a short queue behind them,
and a fast 503 with Retry-After beyond that.

An answer costs hundreds of milliseconds of CPU (embeddings, sentence scoring). Without a bound, an API
process under more load than its cores can answer accepts every request, all of them slow down together
until they time out, and the event loop is too busy to acknowledge Slack commands within Slack's 3 s.
With it, a request is either answered at the process's real speed or refused at once, and a load
balancer or client can retry elsewhere (measured in bench/README.md, "Load").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from core.errors import TransientError


class Admission:
    def __init__(self, running: int, waiting: int) -> None:
        self._slots = asyncio.Semaphore(running)
        self._waiting = 0
        self._max_waiting = waiting

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the running slots; raises TransientError (503) when the queue is full too."""
        if self._slots.locked() and self._waiting >= self._max_waiting:
            raise TransientError("too many questions at once; retry shortly", retry_after_s=1)
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._slots.release()
