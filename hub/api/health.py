"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from hub import scrape
from hub.deps import ServicesDep

router = APIRouter(tags=["operations"])
CHECK_TIMEOUT_S = 3.0


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _check(name: str, probe: object) -> tuple[str, str]:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_S)  # type: ignore[arg-type]
    except Exception as exc:
        return name, f"error: {type(exc).__name__}"
    return name, "ok"


@router.get("/readyz", summary="DB, Redis and the vector index are reachable")
async def readyz(services: ServicesDep) -> JSONResponse:
    async def db() -> None:
        async with services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    probes = [_check("database", db()), _check("index", services.vectors.heartbeat())]
    if services.redis is not None:
        probes.append(_check("redis", services.redis.ping()))
    checks = dict(await asyncio.gather(*probes))
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request, services: ServicesDep) -> Response:
    await scrape.refresh(request.app.state.gauges, services)
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
