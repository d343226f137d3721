"""``create_app(settings)``: the web app (REST, health, metrics) with a lifespan that owns every resource."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from core.embeddings import Embedder
from hub import admin, errors, outbound, slack, teams
from hub.api import health, insights, jobs, privacy, routes
from hub.api import webhooks as webhook_api
from hub.container import open_services
from hub.correlation import with_request_id
from hub.metrics import Metrics, StateGauges, observe
from hub.migrate import ensure_schema
from hub.settings import Settings
from hub.tracing import build_tracer_provider, traced


def create_app(
    settings: Settings, *, embedder: Embedder | None = None, span_exporter: SpanExporter | None = None
) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(settings, embedder=embedder, metrics=app.state.metrics) as services:
            await ensure_schema(services.engine)
            app.state.services = services
            outbound.wire(services)
            app.state.slack = await slack.open_handler(settings, services)
            async with teams.open_endpoint(settings, services) as app.state.teams:
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
    app.state.gauges = StateGauges(app.state.metrics.registry)
    app.state.tracer_provider = build_tracer_provider(settings, span_exporter)
    app.middleware("http")(observe)
    app.middleware("http")(traced)
    app.middleware("http")(with_request_id)  # outermost: its request id is bound for everything inside
    errors.install(app)
    app.include_router(health.router)
    app.include_router(routes.router)
    app.include_router(jobs.router)
    app.include_router(webhook_api.router)
    app.include_router(insights.router)
    app.include_router(privacy.router)
    app.include_router(slack.router)
    app.include_router(teams.router)
    admin.install(app)
    return app
