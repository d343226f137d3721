"""``create_app(settings)``: the web app (REST, health, metrics) with a lifespan that owns every resource."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from core.embeddings import Embedder
from hub import errors, slack
from hub.api import health, routes
from hub.container import open_services
from hub.metrics import Metrics, observe
from hub.migrate import ensure_schema
from hub.settings import Settings


def create_app(settings: Settings, *, embedder: Embedder | None = None) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(settings, embedder=embedder) as services:
            await ensure_schema(services.engine)
            app.state.services = services
            app.state.slack = await slack.open_handler(settings, services)
            yield

    app = FastAPI(
        title="Switchboard",
        version="0.1.0",
        description="Answers from your company's documents, in chat and over REST.",
        lifespan=lifespan,
    )
    app.state.metrics = Metrics()
    app.middleware("http")(observe)
    errors.install(app)
    app.include_router(health.router)
    app.include_router(routes.router)
    app.include_router(slack.router)
    return app
