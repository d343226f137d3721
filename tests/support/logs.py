"""Capture the process's structured logs (as configured by ``hub.logging``) and restore logging after."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import structlog

from hub.logging import configure_logging
from hub.settings import Settings


@dataclass
class CapturedLogs:
    stream: io.StringIO = field(default_factory=io.StringIO)

    def lines(self) -> list[str]:
        return [line for line in self.stream.getvalue().splitlines() if line.strip()]

    def records(self) -> list[dict[str, Any]]:
        """Every line parsed as one JSON object (fails the test on a line that is not)."""
        return [json.loads(line) for line in self.lines()]

    def events(self, event: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("event") == event]


@contextlib.contextmanager
def captured_logs(*, as_json: bool = True, level: str = "INFO") -> Iterator[CapturedLogs]:
    root = logging.getLogger()
    handlers, level_before = list(root.handlers), root.level
    captured = CapturedLogs()
    configure_logging(Settings(log_json=as_json, log_level=level), stream=captured.stream)
    try:
        yield captured
    finally:
        structlog.reset_defaults()
        root.handlers = handlers
        root.setLevel(level_before)
