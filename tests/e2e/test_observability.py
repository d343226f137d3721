"""Observability of the real app under uvicorn, over real HTTP: request ids, access logs, /metrics (with
queue depth read from a real Redis and sync lag from the sources table), and OTLP traces to a real gRPC
collector on loopback."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from arq import create_pool
from arq.connections import RedisSettings
from prometheus_client.parser import text_string_to_metric_families

from core import workspaces
from core.embeddings import MiniLMEmbedder
from core.tables import Collection, Source
from hub.app import create_app
from hub.queue import QUEUE as QUEUE_KEY
from hub.settings import Settings
from tests.fakes.otlp_collector import otlp_collector
from tests.support.live import LiveApp, serve
from tests.support.logs import captured_logs


@pytest.fixture
async def live(settings: Settings, embedder: MiniLMEmbedder, redis_url: str) -> AsyncIterator[LiveApp]:
    configured = settings.model_copy(update={"redis_url": redis_url})
    async with serve(create_app(configured, embedder=embedder)) as app:
        yield app


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_request_id_is_made_when_missing_and_echoed_when_given(live: LiveApp) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as http:
        made = await http.get("/healthz")
        given = await http.get("/healthz", headers={"X-Request-ID": "chat-42.a:b"})
        other = await http.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    assert given.headers["X-Request-ID"] == "chat-42.a:b"
    assert other.headers["X-Request-ID"] != made.headers["X-Request-ID"]


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "new\u2028line", "<script>"])
async def test_malformed_request_ids_are_replaced(live: LiveApp, bad: str) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as http:
        response = await http.get("/healthz", headers={b"X-Request-ID": bad.encode("utf-8")})
    assert response.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


async def test_request_id_is_on_the_json_access_log_line(live: LiveApp) -> None:
    with captured_logs(level="DEBUG") as logs:
        async with httpx.AsyncClient(base_url=live.base_url) as http:
            await http.get("/healthz", headers={"X-Request-ID": "trace-me"})
            missing = await http.post("/api/v1/workspaces/nope/search", json={"query": "x"})
    lines = logs.events("request")
    assert {"route": "/healthz", "status": 200, "request_id": "trace-me", "method": "GET"}.items() <= (
        lines[0].items()
    )
    assert lines[1]["route"] == "/api/v1/workspaces/{workspace}/search" and lines[1]["status"] == 401
    assert lines[1]["request_id"] == missing.headers["X-Request-ID"]
    assert lines[0]["level"] == "debug" and lines[1]["level"] == "info"  # probes are quiet at INFO


async def test_metrics_expose_every_family_and_per_route_latency(live: LiveApp) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as http:
        await http.get("/healthz")
        body = (await http.get("/metrics")).text
    families = {f.name for f in text_string_to_metric_families(body)}
    assert {
        "switchboard_http_request_seconds",
        "switchboard_answers",
        "switchboard_jobs",
        "switchboard_job_seconds",
        "switchboard_cache_requests",
        "switchboard_llm_tokens",
        "switchboard_llm_cost_usd",
        "switchboard_queue_depth",
        "switchboard_source_sync_lag_seconds",
        "switchboard_state_scrape_errors",
    } <= families
    count = samples(body)[
        (
            "switchboard_http_request_seconds_count",
            (("method", "GET"), ("route", "/healthz"), ("status", "200")),
        )
    ]
    assert count == 1.0


async def test_queue_depth_is_read_from_redis_at_scrape_time(live: LiveApp, redis_url: str) -> None:
    pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE_KEY)
    ids = [f"obs-{uuid.uuid4().hex}" for _ in range(3)]
    try:
        async with httpx.AsyncClient(base_url=live.base_url) as http:
            before = samples((await http.get("/metrics")).text)[("switchboard_queue_depth", ())]
            for job_id in ids:
                await pool.enqueue_job("ingest_paths", "w", [], _job_id=job_id, _defer_by=3600)
            after = samples((await http.get("/metrics")).text)[("switchboard_queue_depth", ())]
    finally:
        await pool.zrem(QUEUE_KEY, *ids)
        await pool.delete(*[f"arq:job:{i}" for i in ids])
        await pool.aclose()
    assert after - before == 3


async def test_sync_lag_per_source_comes_from_the_sources_table(live: LiveApp) -> None:
    async with live.services.sessions.begin() as session:
        ws = await workspaces.create(session, "ops")
        collection = Collection(workspace_id=ws.id, name="wiki")
        session.add(collection)
        await session.flush()
        session.add_all(
            [
                Source(
                    workspace_id=ws.id,
                    collection_id=collection.id,
                    type="confluence",
                    name="runbooks",
                    last_synced_at=datetime.now(UTC) - timedelta(seconds=600),
                ),
                Source(workspace_id=ws.id, collection_id=collection.id, type="web", name="never"),
            ]
        )
    async with httpx.AsyncClient(base_url=live.base_url) as http:
        values = samples((await http.get("/metrics")).text)
    lag = values[
        (
            "switchboard_source_sync_lag_seconds",
            (("source", "runbooks"), ("type", "confluence"), ("workspace", "ops")),
        )
    ]
    assert 600 <= lag < 660
    never = values[
        ("switchboard_source_sync_lag_seconds", (("source", "never"), ("type", "web"), ("workspace", "ops")))
    ]
    assert 0 <= never < 60  # never synced: lag since it was created


async def test_metrics_still_answer_when_redis_is_down(settings: Settings, embedder: MiniLMEmbedder) -> None:
    closed = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})  # nothing listens on port 1
    async with (
        serve(create_app(closed, embedder=embedder)) as app,
        httpx.AsyncClient(base_url=app.base_url) as http,
    ):
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert samples(response.text)[("switchboard_state_scrape_errors_total", (("part", "queue"),))] == 1.0


async def test_requests_are_traced_to_an_otlp_collector(settings: Settings, embedder: MiniLMEmbedder) -> None:
    trace_id = uuid.uuid4().hex
    parent = f"00-{trace_id}-{'ab' * 8}-01"
    with otlp_collector() as collector:
        traced = settings.model_copy(
            update={"otel": settings.otel.model_copy(update={"endpoint": collector.endpoint})}
        )
        headers = {"traceparent": parent, "X-Request-ID": "span-1"}
        async with (
            serve(create_app(traced, embedder=embedder)) as app,
            httpx.AsyncClient(base_url=app.base_url) as http,
        ):
            response = await http.get("/healthz", headers=headers)
        spans = collector.received()  # the lifespan's shutdown flushed the batch processor
    assert response.status_code == 200
    [span] = [s for s in spans if s.name == "GET /healthz"]
    assert span.trace_id.hex() == trace_id and span.parent_span_id.hex() == "ab" * 8
    attributes = {a.key: a.value for a in span.attributes}
    assert attributes["http.route"].string_value == "/healthz"
    assert attributes["http.response.status_code"].int_value == 200
    assert attributes["switchboard.request_id"].string_value == "span-1"


async def test_tracing_is_off_without_an_endpoint(live: LiveApp) -> None:
    assert live.app.state.tracer_provider is None
