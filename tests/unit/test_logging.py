"""Structured logs: one JSON object per line, stdlib loggers included, context vars on every line."""

from __future__ import annotations

import logging
from datetime import datetime

import structlog

from tests.support.logs import captured_logs


def test_json_lines_carry_level_time_logger_and_fields() -> None:
    with captured_logs() as logs:
        structlog.get_logger("hub.test").info("synced", source="wiki", documents=3)
    [record] = logs.records()
    assert record["event"] == "synced" and record["level"] == "info" and record["logger"] == "hub.test"
    assert record["source"] == "wiki" and record["documents"] == 3
    assert datetime.fromisoformat(record["timestamp"]).utcoffset() is not None  # ISO 8601, UTC


def test_stdlib_loggers_share_the_json_format() -> None:
    with captured_logs() as logs:
        logging.getLogger("uvicorn.error").warning("port %d busy", 8000)
    [record] = logs.records()
    assert record["event"] == "port 8000 busy" and record["level"] == "warning"
    assert record["logger"] == "uvicorn.error"


def test_bound_context_vars_appear_on_every_line_until_unbound() -> None:
    log = structlog.get_logger("hub.test")
    with captured_logs() as logs:
        with structlog.contextvars.bound_contextvars(request_id="req-1"):
            log.info("inside")
            logging.getLogger("arq.worker").info("stdlib inside")
        log.info("outside")
    inside, stdlib, outside = logs.records()
    assert inside["request_id"] == stdlib["request_id"] == "req-1"
    assert "request_id" not in outside


def test_level_filters_and_exceptions_are_rendered() -> None:
    log = structlog.get_logger("hub.test")
    with captured_logs(level="WARNING") as logs:
        log.info("hidden")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    [record] = logs.records()
    assert record["event"] == "failed" and record["level"] == "error"
    assert "ValueError: boom" in record["exception"]


def test_console_format_when_json_is_off() -> None:
    with captured_logs(as_json=False) as logs:
        structlog.get_logger("hub.test").info("hello", n=1)
    [line] = logs.lines()
    assert not line.startswith("{") and "hello" in line and "n=1" in line
