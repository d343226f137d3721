"""What the logs hold: arq's job-start line keeps the job id and function but never the job's arguments
(a chat turn's arguments are the asker's user id, email and question)."""

from __future__ import annotations

import logging

from hub.logging import ARQ_JOB_START
from tests.support.logs import captured_logs


def test_arq_job_start_lines_carry_no_job_arguments() -> None:
    turn = "{'user_id': 'UPRIVATE9', 'text': 'my secret question'}"
    with captured_logs() as logs:
        logging.getLogger("arq.worker").info(ARQ_JOB_START, 0.5, "abc123:answer_slack", turn, " try=2")
        logging.getLogger("arq.worker").info("%6.2fs ← %s ● %s", 0.3, "abc123:answer_slack", "")
        logging.getLogger("hub.test").info(ARQ_JOB_START, 0.5, "not arq", "kept", "")
    started, finished, other = logs.records()
    assert started["event"] == "  0.50s → abc123:answer_slack(…) try=2"
    assert "UPRIVATE9" not in logs.stream.getvalue() and "secret question" not in logs.stream.getvalue()
    assert finished["event"].startswith("  0.30s ← abc123:answer_slack")
    assert other["event"] == "  0.50s → not arq(kept)"  # only arq's own line is touched
