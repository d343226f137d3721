"""The real app under uvicorn on 127.0.0.1, in the test's event loop, reached over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette

from hub.container import Services
from hub.runtime import free_port
from tests.support.tls import SelfSigned


@dataclass
class LiveApp:
    base_url: str
    app: Starlette

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services


@contextlib.asynccontextmanager
async def serve(app: Starlette, tls: SelfSigned | None = None) -> AsyncIterator[LiveApp]:
    """Any ASGI app of ours (the real app, or a loopback fake) on a free 127.0.0.1 port; https if ``tls``."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        ssl_certfile=str(tls.cert) if tls else None,
        ssl_keyfile=str(tls.key) if tls else None,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(300):
        if server.started or task.done():
            break
        await asyncio.sleep(0.05)
    if not server.started:
        task.result() if task.done() else task.cancel()
        raise RuntimeError("uvicorn did not start")
    try:
        yield LiveApp(f"{'https' if tls else 'http'}://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        await task
