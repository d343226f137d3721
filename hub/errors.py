"""The one place where domain errors become HTTP statuses."""

from __future__ import annotations

import logging

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError

from core.errors import (
    AccessDenied,
    AlreadyExists,
    IndexMismatch,
    InvalidInput,
    NotFound,
    PermanentError,
    RateLimited,
    SwitchboardError,
    TransientError,
)

STATUS: list[tuple[type[SwitchboardError], int]] = [
    (NotFound, 404),
    (AlreadyExists, 409),
    (IndexMismatch, 409),
    (InvalidInput, 422),
    (AccessDenied, 403),
    (RateLimited, 429),
    (TransientError, 503),
    (PermanentError, 400),
]


log = logging.getLogger(__name__)

# what a database or Redis restart looks like from inside a request
OUTAGES = (
    ConnectionError,  # refused / reset (the builtin, which OSError-based clients raise)
    RedisConnectionError,
    RedisTimeoutError,
    asyncpg.exceptions.OperatorInterventionError,  # "shutting down", "terminating connection"
    asyncpg.exceptions.PostgresConnectionError,
)


def is_outage(exc: BaseException) -> bool:
    """True when the error, or one it was raised from, says a backing service is (briefly) unreachable."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OUTAGES) or (isinstance(seen, DBAPIError) and seen.connection_invalidated):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def unavailable(request: Request, exc: Exception) -> JSONResponse:
    """A database or Redis outage becomes 503 + Retry-After (the client may retry), anything else a 500."""
    if is_outage(exc):
        log.warning("backing service unavailable: %s", type(exc).__name__)
        detail = "a backing service is briefly unavailable; retry shortly"
        return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "2"})
    log.error("unhandled error", exc_info=exc)
    return JSONResponse({"detail": "internal error"}, status_code=500)


def status_for(exc: SwitchboardError) -> int:
    return next((code for kind, code in STATUS if isinstance(exc, kind)), 500)


async def handle(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SwitchboardError)
    headers = {}
    if isinstance(exc, TransientError) and exc.retry_after_s:
        headers["Retry-After"] = str(max(1, round(exc.retry_after_s)))
    return JSONResponse({"detail": str(exc)}, status_code=status_for(exc), headers=headers)


async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """422 with where and what, never echoing the raw input (it may be binary or huge)."""
    assert isinstance(exc, RequestValidationError)
    detail = [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "")),
            "type": error.get("type"),
        }
        for error in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(SwitchboardError, handle)
    app.add_exception_handler(RequestValidationError, invalid_request)
    for outage in (DBAPIError, ConnectionError, RedisConnectionError, RedisTimeoutError):
        app.add_exception_handler(outage, unavailable)
