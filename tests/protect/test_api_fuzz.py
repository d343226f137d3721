"""schemathesis fuzzes every REST operation from the app's own OpenAPI document, over real HTTP, with a
valid admin key and the real workspace in the path: no 5xx, and every response fits its declared schema."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from core import apikeys, workspaces
from core.embeddings import MiniLMEmbedder
from core.indexing import IncomingDocument, ingest_all
from hub.app import create_app
from hub.settings import RateLimitSettings, Settings
from tests.support.live import serve
from tests.support.workers import flush

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
SKIP = ("/events",)  # a live server-sent event stream: covered by the jobs tests


def fuzz_operation(operation: Any, base_url: str, key: str, examples: int) -> Callable[[], None]:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.path_parameters = {**(case.path_parameters or {}), "workspace": "alpha"}
        headers = {"Authorization": f"Bearer {key}"}
        response = case.call(base_url=base_url, headers=headers, timeout=60)
        case.validate_response(response, checks=CHECKS)

    return run


@pytest.mark.slow
async def test_rest_api_survives_fuzzing(tmp_path: Path, redis_url: str, embedder: MiniLMEmbedder) -> None:
    await flush(redis_url)
    cfg = Settings(
        data_dir=tmp_path / "var", redis_url=redis_url, rate_limits=RateLimitSettings(enabled=False)
    )
    async with serve(create_app(cfg, embedder=embedder)) as live:
        async with live.services.sessions.begin() as session:
            alpha = await workspaces.create(session, "alpha")
            _, key = await apikeys.create(session, alpha, "admin")
        doc = IncomingDocument("vpn.md", b"# VPN\n\nRequest VPN access in the IT portal.", "vpn.md")
        await ingest_all(live.services.indexer, alpha, [doc])
        async with httpx.AsyncClient(base_url=live.base_url) as http:
            document = (await http.get("/openapi.json")).json()
        schema = schemathesis.openapi.from_dict(document)
        fuzzed = []
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result  # the document itself is valid OpenAPI
            operation = result.ok()
            if not operation.path.startswith("/api/v1/") or operation.path.endswith(SKIP):
                continue
            await asyncio.to_thread(fuzz_operation(operation, live.base_url, key, 12))
            fuzzed.append(f"{operation.method.upper()} {operation.path}")
    assert len(fuzzed) >= 15, fuzzed
