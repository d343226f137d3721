"""The real app under uvicorn on 127.0.0.1, in the test's event loop, reached over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette

from hub.container import Services
from hub.runtime import free_port


@dataclass
class LiveApp:
    base_url: str
    app: Starlette

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services


@contextlib.asynccontextmanager
async def serve(app: Starlette, **options: Any) -> AsyncIterator[LiveApp]:
    """Any ASGI app of ours (the real app, or a loopback fake) on a free 127.0.0.1 port.

    ``options`` go to ``uvicorn.Config`` (e.g. ``ssl_certfile``/``ssl_keyfile`` for an https fake).
    """
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **options)
    )
    task = asyncio.create_task(server.serve())
    for _ in range(300):
        if server.started or task.done():
            break
        await asyncio.sleep(0.05)
    if not server.started:
        task.result() if task.done() else task.cancel()
        raise RuntimeError("uvicorn did not start")
    try:
        scheme = "https" if options.get("ssl_certfile") else "http"
        yield LiveApp(f"{scheme}://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        await task
