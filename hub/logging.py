"""Structured logs with structlog: JSON lines (``SWITCHBOARD_LOG_JSON=true``) or readable console lines.

``configure_logging`` runs once per process, from ``main()`` (the CLI's ``load_settings``). The standard
library's loggers (uvicorn, arq, SQLAlchemy) go through the same renderer, so every line of a process has
one format, and context bound with ``structlog.contextvars`` (request ids, job ids) appears on each line.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
from structlog.typing import Processor

from hub.settings import Settings

ARQ_JOB_START = "%6.2fs → %s(%s)%s"  # arq.worker's INFO line when a job starts: its args are the 3rd value


def hide_job_arguments(record: logging.LogRecord) -> bool:
    """Drop job arguments from arq's job-start line: a chat turn's arguments are the asker's ids and words
    (and the platform payload), which must never reach the logs. The job id and function name stay."""
    args = record.args
    if (
        record.name == "arq.worker"
        and record.msg == ARQ_JOB_START
        and isinstance(args, tuple)
        and len(args) == 4
    ):
        record.args = (args[0], args[1], "…", args[3])
    return True


def shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def renderer(as_json: bool) -> Processor:
    if as_json:
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False)


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Route structlog and stdlib logging to one handler on ``stream`` (stderr: stdout stays for results)."""
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    structlog.configure(
        processors=[*shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer(settings.log_json),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(hide_job_arguments)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "arq"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # HTTP clients log every request at INFO: a line per Chroma query, and URLs that may be secrets
    # (a Slack response_url). Their warnings and errors still come through.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
