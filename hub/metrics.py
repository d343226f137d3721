"""Prometheus metrics, in a registry per process (no module-level state).

Every process (API or worker) records what it does: HTTP requests, answers, jobs, cache look-ups, LLM
tokens and cost. The API also reports shared state read at scrape time (``StateGauges``): the arq queue
depth from Redis and each source's sync lag from the database. Because every API replica reads the same
shared state, dashboards and autoscalers take ``max()`` of those gauges, never ``sum()``.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import Match

from core.tables import as_utc

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class Metrics:
    """What one process records. Colleagues' code calls the ``record_*`` methods."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "switchboard_http_request_seconds",
            "HTTP request latency by route",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=HTTP_BUCKETS,
        )
        self.answers = Counter(
            "switchboard_answers_total", "Answers given", ["mode", "abstained"], registry=self.registry
        )
        self.jobs = Counter(
            "switchboard_jobs_total",
            "Background jobs finished, by outcome (ok, retry, failed)",
            ["function", "status"],
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "switchboard_job_seconds",
            "Background job run time",
            ["function"],
            registry=self.registry,
            buckets=JOB_BUCKETS,
        )
        self.cache = Counter(
            "switchboard_cache_requests_total",
            "Cache look-ups by cache and result (hit, miss)",
            ["cache", "result"],
            registry=self.registry,
        )
        self.llm_tokens = Counter(
            "switchboard_llm_tokens_total",
            "LLM tokens used, by provider, model and kind (input, output)",
            ["provider", "model", "kind"],
            registry=self.registry,
        )
        self.llm_cost = Counter(
            "switchboard_llm_cost_usd_total",
            "LLM cost in US dollars, by provider and model",
            ["provider", "model"],
            registry=self.registry,
        )

    def record_answer(self, mode: str, abstained: bool) -> None:
        self.answers.labels(mode, str(abstained).lower()).inc()

    def record_job(self, function: str, status: str, seconds: float) -> None:
        self.jobs.labels(function, status).inc()
        self.job_seconds.labels(function).observe(seconds)

    def record_cache(self, cache: str, hit: bool) -> None:
        self.cache.labels(cache, "hit" if hit else "miss").inc()

    def record_llm(
        self, provider: str, model: str, *, input_tokens: int, output_tokens: int, cost_usd: float
    ) -> None:
        self.llm_tokens.labels(provider, model, "input").inc(max(input_tokens, 0))
        self.llm_tokens.labels(provider, model, "output").inc(max(output_tokens, 0))
        self.llm_cost.labels(provider, model).inc(max(cost_usd, 0.0))


class StateGauges:
    """Shared state, read at scrape time by the API (see ``hub.scrape``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.queue_depth = Gauge(
            "switchboard_queue_depth", "Jobs waiting in the arq queue (switchboard:queue)", registry=registry
        )
        self.sync_lag = Gauge(
            "switchboard_source_sync_lag_seconds",
            "Seconds since each source last synced (since it was created, if never)",
            ["workspace", "source", "type"],
            registry=registry,
        )
        self.scrape_errors = Counter(
            "switchboard_state_scrape_errors_total",
            "Failures reading shared state at scrape time, by part (queue, sources)",
            ["part"],
            registry=registry,
        )

    def set_sync_lag(self, rows: list[tuple[str, str, str, datetime]], now: datetime) -> None:
        self.sync_lag.clear()
        for workspace, source, kind, since in rows:
            lag = (now - as_utc(since)).total_seconds()
            self.sync_lag.labels(workspace, source, kind).set(max(lag, 0.0))


def route_template(request: Request) -> str:
    """The matched route's path template (``/api/v1/workspaces/{workspace}/ask``), never the raw path."""
    route = request.scope.get("route")
    if route is None:
        for candidate in request.app.router.routes:
            match, child = candidate.matches(request.scope)
            if match == Match.FULL:
                route = child.get("route", candidate)
                break
    return str(getattr(route, "path", "unmatched"))
