"""Optional OpenTelemetry tracing: one server span per HTTP request, exported over OTLP/gRPC.

Off unless ``SWITCHBOARD_OTEL__ENDPOINT`` is set. The tracer provider lives in ``app.state`` (never the
global one); an incoming W3C ``traceparent`` header continues the caller's trace.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from hub.correlation import current_request_id
from hub.metrics import route_template
from hub.settings import Settings


def build_tracer_provider(settings: Settings, exporter: SpanExporter | None = None) -> TracerProvider | None:
    cfg = settings.otel
    if not cfg.endpoint and exporter is None:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": cfg.service_name}))
    exporter = exporter or OTLPSpanExporter(endpoint=cfg.endpoint, insecure=cfg.insecure)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


async def traced(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    provider: TracerProvider | None = request.app.state.tracer_provider
    if provider is None:
        return await call_next(request)
    tracer = provider.get_tracer("switchboard.http")
    with tracer.start_as_current_span(
        request.method,
        context=propagate.extract(dict(request.headers)),
        kind=trace.SpanKind.SERVER,
        attributes={"http.request.method": request.method},
    ) as span:
        response = await call_next(request)
        route = route_template(request)  # known once routing has run
        span.update_name(f"{request.method} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", response.status_code)
        request_id = current_request_id()
        if request_id:
            span.set_attribute("switchboard.request_id", request_id)
        if response.status_code >= 500:
            span.set_status(trace.StatusCode.ERROR)
    return response
