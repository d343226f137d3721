"""Prometheus metrics, in a registry per app (no module-level state)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import Match

from core.cache import CacheStats


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "switchboard_http_request_seconds",
            "HTTP request latency by route",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.answers = Counter(
            "switchboard_answers_total", "Answers given", ["mode", "abstained"], registry=self.registry
        )
        self.cache = Gauge(
            "switchboard_query_cache",
            "Query cache lookups of this process",
            ["outcome"],
            registry=self.registry,
        )
        self.cache_hit_ratio = Gauge(
            "switchboard_query_cache_hit_ratio",
            "Share of query cache lookups that hit",
            registry=self.registry,
        )

    def sample_cache(self, stats: CacheStats | None) -> None:
        """Copied at scrape time from the cache's own counters (it lives in core, outside this registry)."""
        stats = stats or CacheStats()
        self.cache.labels("hit").set(stats.hits)
        self.cache.labels("miss").set(stats.misses)
        self.cache_hit_ratio.set(stats.hit_rate)


def route_template(request: Request) -> str:
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match == Match.FULL:
            return str(getattr(route, "path", "unmatched"))
    return "unmatched"


async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    started = time.perf_counter()
    response = await call_next(request)
    metrics: Metrics = request.app.state.metrics
    metrics.requests.labels(request.method, route_template(request), str(response.status_code)).observe(
        time.perf_counter() - started
    )
    return response
