"""``ObservedRequests`` on a tiny Starlette app, in process (httpx's ASGI transport, no sockets): the cases
the e2e observability tests do not reach (streamed responses, a route that sets its own request id header,
an exception escaping the app) and the promise that the real app has no ``BaseHTTPMiddleware`` left."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from hub.app import create_app
from hub.http_middleware import ObservedRequests
from hub.metrics import Metrics
from hub.settings import Settings
from tests.support.logs import captured_logs


async def chunks() -> AsyncIterator[bytes]:
    for part in (b"data: one\n\n", b"data: two\n\n"):
        yield part


async def stream(request: Request) -> Response:
    return StreamingResponse(chunks(), media_type="text/event-stream")


async def own_header(request: Request) -> Response:
    return PlainTextResponse("x", headers={"x-request-id": "set-by-route"})


async def boom(request: Request) -> Response:
    raise RuntimeError("boom")


def tiny_app() -> Starlette:
    app = Starlette(
        routes=[
            Route("/items/{item}/events", stream),
            Route("/own", own_header),
            Route("/boom", boom),
        ]
    )
    app.state.metrics = Metrics()
    app.state.tracer_provider = None
    app.add_middleware(ObservedRequests)
    return app


def count(metrics: Metrics, route: str, status: str) -> float | None:
    labels = {"method": "GET", "route": route, "status": status}
    return metrics.registry.get_sample_value("switchboard_http_request_seconds_count", labels)


async def test_a_streamed_response_is_echoed_logged_and_counted_once() -> None:
    app = tiny_app()
    with captured_logs() as logs:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            response = await http.get("/items/7/events", headers={"X-Request-ID": "sse-1"})
    assert response.text == "data: one\n\ndata: two\n\n"
    assert response.headers.get_list("X-Request-ID") == ["sse-1"]
    (line,) = logs.events("request")
    assert {"route": "/items/{item}/events", "status": 200, "request_id": "sse-1"}.items() <= line.items()
    assert count(app.state.metrics, "/items/{item}/events", "200") == 1.0


async def test_the_request_id_replaces_a_header_the_route_set() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=tiny_app()), base_url="http://t") as http:
        response = await http.get("/own", headers={"X-Request-ID": "caller-1"})
    assert response.headers.get_list("X-Request-ID") == ["caller-1"]


async def test_an_unmatched_path_is_counted_as_unmatched() -> None:
    app = tiny_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await http.get("/nowhere")
    assert response.status_code == 404 and response.headers["X-Request-ID"]
    assert count(app.state.metrics, "unmatched", "404") == 1.0


async def test_an_exception_escaping_the_app_propagates_unrecorded() -> None:
    app = tiny_app()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        with pytest.raises(RuntimeError, match="boom"):
            await http.get("/boom")
    assert count(app.state.metrics, "/boom", "500") is None


def test_the_real_app_has_one_pure_asgi_observer_and_no_base_http_middleware(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "var", database_url=None, redis_url=None, chroma_url=None))
    classes: list[object] = [m.cls for m in app.user_middleware]
    assert classes.count(ObservedRequests) == 1
    assert BaseHTTPMiddleware not in classes
