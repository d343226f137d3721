"""Request ids: one per HTTP request (an incoming ``X-Request-ID`` is honoured when well-formed), returned
in the response header, bound to every log line of the request, and carried into arq jobs.

Enqueue with ``enqueue_job`` and wrap job functions with ``observed``: the job's log lines then carry the
request id that caused it (plus the job id and function), and its duration and outcome are recorded in
the worker's ``Metrics``.
"""

from __future__ import annotations

import functools
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import structlog
from arq import Retry
from arq.connections import ArqRedis
from arq.jobs import Job
from arq.typing import WorkerCoroutine

from hub.metrics import Metrics

log = structlog.get_logger(__name__)

HEADER = "X-Request-ID"
REQUEST_ID_KWARG = "request_id"
VALID_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})  # probes and scrapes: debug unless failing
T = TypeVar("T")


def request_id_from(value: str | None) -> str:
    """The caller's id when it is safe to log and echo; a fresh one otherwise."""
    if value and VALID_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get(REQUEST_ID_KWARG)
    return str(value) if value is not None else None


async def enqueue_job(pool: ArqRedis, function: str, *args: Any, **kwargs: Any) -> Job | None:
    """``pool.enqueue_job`` that carries the current request id (if any) into the job."""
    request_id = current_request_id()
    if request_id is not None:
        kwargs.setdefault(REQUEST_ID_KWARG, request_id)
    return await pool.enqueue_job(function, *args, **kwargs)


def observed(job: Callable[..., Awaitable[T]]) -> WorkerCoroutine:
    """Wrap an arq job: bind request id/job id/function to its logs; time it into ``ctx["metrics"]``."""
    name = job.__name__

    @functools.wraps(job)
    async def run(ctx: dict[str, Any], *args: Any, request_id: str | None = None, **kwargs: Any) -> T:
        metrics: Metrics | None = ctx.get("metrics")
        started = time.perf_counter()
        status = "failed"
        context = {"request_id": request_id, "job_id": ctx.get("job_id"), "job": name}
        with structlog.contextvars.bound_contextvars(**{k: v for k, v in context.items() if v is not None}):
            try:
                result = await job(ctx, *args, **kwargs)
                status = "ok"
                return result
            except Retry:
                status = "retry"
                raise
            finally:
                seconds = time.perf_counter() - started
                if metrics is not None:
                    metrics.record_job(name, status, seconds)
                level = logging.INFO if status == "ok" else logging.WARNING
                log.log(level, "job finished", status=status, duration_ms=round(seconds * 1000.0, 2))

    return cast("WorkerCoroutine", run)
