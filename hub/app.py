"""``create_app(settings)``: the web app (REST, health, metrics) with a lifespan that owns every resource."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from core import audit
from core.embeddings import Embedder
from hub import admin, errors, outbound, push, slack, teams
from hub.admission import Admission
from hub.api import health, insights, jobs, privacy, routes
from hub.api import push as push_routes
from hub.api import sources as source_routes
from hub.api import webhooks as webhook_api
from hub.container import open_services
from hub.http_middleware import ObservedRequests
from hub.metrics import Metrics, StateGauges
from hub.migrate import ensure_schema
from hub.settings import Settings
from hub.tracing import build_tracer_provider
from hub.warmup import keywords_warming
from webhooks import inbound


def web_settings(settings: Settings) -> Settings:
    """The web process's settings: few embedding threads when workers answer the chat bots."""
    embedding = settings.embedding
    if settings.chat_answers != "worker" or embedding.threads is not None or embedding.web_threads is None:
        return settings
    threads = embedding.model_copy(update={"threads": embedding.web_threads})
    return settings.model_copy(update={"embedding": threads})


def create_app(
    settings: Settings, *, embedder: Embedder | None = None, span_exporter: SpanExporter | None = None
) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            open_services(web_settings(settings), embedder=embedder, metrics=app.state.metrics) as services,
            push.wired(services) as app.state.inbound,
            audit.BatchedAuditLog(
                services.sessions, delay_s=settings.api.audit_batch_s
            ).closed() as app.state.search_audit,
        ):
            await ensure_schema(services.engine)
            app.state.services = services
            outbound.wire(services)
            app.state.slack = await slack.open_handler(settings, services)
            async with teams.open_endpoint(settings, services) as app.state.teams, keywords_warming(services):
                try:
                    yield
                finally:
                    if app.state.tracer_provider is not None:
                        app.state.tracer_provider.shutdown()

    app = FastAPI(
        title="Switchboard",
        version="0.1.0",
        description="Answers from your company's documents, in chat and over REST.",
        lifespan=lifespan,
    )
    app.state.metrics = Metrics()
    app.state.admission = Admission(settings.api.concurrent_asks, settings.api.queued_asks)
    app.state.gauges = StateGauges(app.state.metrics.registry)
    app.state.tracer_provider = build_tracer_provider(settings, span_exporter)
    app.add_middleware(ObservedRequests)  # request id, access log, span, metrics: one pure ASGI layer
    errors.install(app)
    app.include_router(health.router)
    app.include_router(routes.router)
    app.include_router(jobs.router)
    app.include_router(source_routes.router)
    app.include_router(webhook_api.router)
    app.include_router(insights.router)
    app.include_router(privacy.router)
    app.include_router(slack.router)
    app.include_router(teams.router)
    app.include_router(inbound.router)
    app.include_router(push_routes.router)
    admin.install(app)
    return app
