"""Analytics of one workspace over a window of days: volume, latency, topics, content gaps, citations,
feedback and cost. Every figure is a ``Table`` (name, columns, rows), so the API, CSV exports and charts
share one shape.

Rows are read for the window and aggregated here, which keeps the figures identical on SQLite and
PostgreSQL (percentiles by nearest rank); windows are capped at a year.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput
from core.tables import AnswerFeedback, AnswerLog, LLMCall, Workspace

MAX_DAYS = 366
TOP = 20
WORD = re.compile(r"[^\W\d_][\w'-]{2,}", re.UNICODE)
STOP_TEXT = (
    "the and for are was were what when where which who whom why how does did doing have has had "
    "with from that this these those into onto about can could should would will shall may might "
    "must our your their there here then than them they you him her his its it's not but all any "
    "some out off get got use used using need needs want wants like just also only very much more "
    "most many "
)
STOPWORDS = frozenset(STOP_TEXT.split())
TableName = Literal[
    "questions_per_day",
    "top_topics",
    "gaps",
    "cited_documents",
    "feedback",
    "cost_by_channel",
    "cost_by_user",
    "cost_by_provider",
]
TABLES: tuple[str, ...] = get_args(TableName)


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Report:
    workspace: str
    since: datetime
    until: datetime
    summary: dict[str, Any]
    tables: dict[str, Table]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return round(ordered[rank - 1], 2)


def topics(question: str) -> set[str]:
    return {w for w in (m.lower() for m in WORD.findall(question)) if w not in STOPWORDS}


def check_days(days: int) -> int:
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be between 1 and {MAX_DAYS}")
    return days


async def report(session: AsyncSession, workspace: Workspace, days: int, now: datetime) -> Report:
    since = now - timedelta(days=check_days(days))
    logs = list(
        (
            await session.scalars(
                select(AnswerLog)
                .where(AnswerLog.workspace_id == workspace.id, AnswerLog.created_at >= since)
                .order_by(AnswerLog.id)
            )
        ).all()
    )
    ratings = list(
        (
            await session.scalars(
                select(AnswerFeedback.rating).where(
                    AnswerFeedback.workspace_id == workspace.id, AnswerFeedback.created_at >= since
                )
            )
        ).all()
    )
    calls = list(
        (
            await session.scalars(
                select(LLMCall).where(LLMCall.workspace_id == workspace.id, LLMCall.created_at >= since)
            )
        ).all()
    )
    tables = {
        t.name: t
        for t in (
            per_day(logs),
            top_topics(logs),
            gaps(logs),
            cited(logs),
            feedback(ratings),
            *costs(calls),
        )
    }
    return Report(workspace.name, since, now, summary(logs, ratings, calls), tables)


def summary(logs: list[AnswerLog], ratings: list[int], calls: list[LLMCall]) -> dict[str, Any]:
    latencies = [log.latency_ms for log in logs]
    up, down = ratings.count(1), ratings.count(-1)
    return {
        "questions": len(logs),
        "abstained": sum(1 for log in logs if log.abstained),
        "latency_ms_p50": percentile(latencies, 50),
        "latency_ms_p95": percentile(latencies, 95),
        "feedback_up": up,
        "feedback_down": down,
        "feedback_ratio": round(up / (up + down), 4) if up + down else None,
        "cost_usd": round(sum(c.cost_usd for c in calls), 6),
        "llm_calls": len(calls),
    }


def per_day(logs: list[AnswerLog]) -> Table:
    days: dict[str, list[float]] = defaultdict(list)
    for log in logs:
        days[log.created_at.date().isoformat()].append(log.latency_ms)
    rows = [(day, len(v), percentile(v, 50), percentile(v, 95)) for day, v in sorted(days.items())]
    return Table("questions_per_day", ("day", "questions", "latency_ms_p50", "latency_ms_p95"), rows)


def top_topics(logs: list[AnswerLog]) -> Table:
    counts: Counter[str] = Counter()
    for log in logs:
        counts.update(topics(log.question))
    return Table("top_topics", ("topic", "questions"), counts.most_common(TOP))


def gaps(logs: list[AnswerLog]) -> Table:
    """Questions that went unanswered (the answerer abstained): the content to write next."""
    counts: Counter[str] = Counter(" ".join(log.question.split()) for log in logs if log.abstained)
    return Table("gaps", ("question", "times_asked"), counts.most_common(100))


def cited(logs: list[AnswerLog]) -> Table:
    counts: Counter[str] = Counter(doc for log in logs for doc in dict.fromkeys(log.document_ids or []))
    return Table("cited_documents", ("document_id", "answers"), counts.most_common(TOP))


def feedback(ratings: list[int]) -> Table:
    up, down = ratings.count(1), ratings.count(-1)
    ratio = round(up / (up + down), 4) if up + down else None
    return Table("feedback", ("up", "down", "ratio"), [(up, down, ratio)])


def costs(calls: list[LLMCall]) -> list[Table]:
    tables = []
    keys: list[tuple[str, Callable[[LLMCall], str]]] = [
        ("cost_by_channel", lambda c: c.channel_id or "-"),
        ("cost_by_user", lambda c: c.user_id or "-"),
        ("cost_by_provider", lambda c: c.provider),
    ]
    for name, key in keys:
        sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
        for call in calls:
            row = sums[key(call)]
            row[0] += 1
            row[1] += call.input_tokens
            row[2] += call.output_tokens
            row[3] += call.cost_usd
        rows = sorted(
            ((k, int(v[0]), int(v[1]), int(v[2]), round(v[3], 6)) for k, v in sums.items()),
            key=lambda r: (-r[4], r[0]),
        )
        label = name.removeprefix("cost_by_")
        tables.append(Table(name, (label, "calls", "input_tokens", "output_tokens", "cost_usd"), rows))
    return tables
