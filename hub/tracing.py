"""Optional OpenTelemetry tracing: one server span per HTTP request, exported over OTLP/gRPC.

The span is opened by ``hub.http_middleware.ObservedRequests``. Off unless ``SWITCHBOARD_OTEL__ENDPOINT``
is set. The tracer provider lives in ``app.state`` (never the global one); an incoming W3C ``traceparent``
header continues the caller's trace.
"""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from hub.settings import Settings


def build_tracer_provider(settings: Settings, exporter: SpanExporter | None = None) -> TracerProvider | None:
    cfg = settings.otel
    if not cfg.endpoint and exporter is None:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": cfg.service_name}))
    exporter = exporter or OTLPSpanExporter(endpoint=cfg.endpoint, insecure=cfg.insecure)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider
