"""A database or Redis restart seen from inside a request is a 503 with Retry-After, not a 500."""

from __future__ import annotations

import asyncpg
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import DBAPIError, IntegrityError

from hub.errors import is_outage


def wrapped(orig: Exception) -> DBAPIError:
    try:
        try:
            raise orig
        except Exception as exc:
            raise DBAPIError("SELECT 1", None, exc) from exc
    except DBAPIError as outer:
        return outer


def test_restarts_and_refusals_are_outages() -> None:
    assert is_outage(
        wrapped(asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"))
    )
    assert is_outage(wrapped(asyncpg.exceptions.AdminShutdownError("terminating connection")))
    assert is_outage(ConnectionRefusedError(111, "Connection refused"))
    assert is_outage(RedisConnectionError("Error 111 connecting"))


def test_bugs_stay_500s() -> None:
    assert not is_outage(IntegrityError("INSERT", None, ValueError("duplicate key")))
    assert not is_outage(ValueError("bad"))
