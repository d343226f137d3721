"""The one place where domain errors become HTTP statuses."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

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
