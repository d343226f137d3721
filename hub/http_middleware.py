"""``ObservedRequests``: the one pure ASGI middleware every HTTP request passes through.

It does what three ``BaseHTTPMiddleware`` functions (request id, tracing, metrics) did, in their order,
without their cost: each of those ran the rest of the app in an extra task joined by memory streams,
which on a loaded machine was a visible share of a Slack acknowledgement's CPU. Here the app runs in the
request's own task and ``send`` is wrapped to see the status and add the ``X-Request-ID`` header.

Per request: the request id (the caller's when well-formed) is bound in structlog's contextvars for every
log line of the request and echoed in the response; an optional OpenTelemetry server span (continuing an
incoming ``traceparent``) is current while the app runs; when the response starts (as before: time to
headers, so a streamed response counts until its first byte), the Prometheus histogram is observed per
route template, the span gets its route name and status, and one access log line is written (debug for
probes and scrapes that succeed). An exception escaping the app is left to Starlette's error middleware,
unrecorded, as before; the span records it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

import structlog
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.correlation import HEADER, QUIET_ROUTES, REQUEST_ID_KWARG, request_id_from
from hub.metrics import Metrics, route_template

log = structlog.get_logger("hub.correlation")  # the access log keeps its logger name


class ObservedRequests:
    """Request id + access log, optional server span, request histogram: one ASGI layer for all three."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        request_id = request_id_from(request.headers.get(HEADER))
        started = time.perf_counter()
        with (
            structlog.contextvars.bound_contextvars(**{REQUEST_ID_KWARG: request_id}),
            server_span(request) as span,
        ):

            async def send_observed(message: Message) -> None:
                if message["type"] == "http.response.start":
                    MutableHeaders(scope=message)[HEADER] = request_id
                    record(request, int(message["status"]), time.perf_counter() - started, span, request_id)
                await send(message)

            await self.app(scope, receive, send_observed)


@contextlib.contextmanager
def server_span(request: Request) -> Iterator[trace.Span | None]:
    """The request's server span, current while the app runs; ``None`` when tracing is off."""
    provider: TracerProvider | None = request.app.state.tracer_provider
    if provider is None:
        yield None
        return
    tracer = provider.get_tracer("switchboard.http")
    with tracer.start_as_current_span(
        request.method,
        context=propagate.extract(dict(request.headers)),
        kind=trace.SpanKind.SERVER,
        attributes={"http.request.method": request.method},
    ) as span:
        yield span


def record(request: Request, status: int, seconds: float, span: trace.Span | None, request_id: str) -> None:
    """What is known once the response starts: the histogram, the span's route and status, the access log."""
    route = route_template(request)  # known once routing has run
    metrics: Metrics = request.app.state.metrics
    metrics.requests.labels(request.method, route, str(status)).observe(seconds)
    if span is not None:
        span.update_name(f"{request.method} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        span.set_attribute("switchboard.request_id", request_id)
        if status >= 500:
            span.set_status(trace.StatusCode.ERROR)
    log.log(
        logging.DEBUG if route in QUIET_ROUTES and status < 400 else logging.INFO,
        "request",
        method=request.method,
        route=route,
        status=status,
        duration_ms=round(seconds * 1000.0, 2),
    )
