"""The REST API under uvicorn, over real HTTP: auth, workspace scoping, validation, search, ask, health."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from core import apikeys, audit, workspaces
from core.embeddings import MiniLMEmbedder
from core.indexing import IncomingDocument, ingest_all
from hub.app import create_app
from hub.settings import Settings
from tests.support.live import LiveApp, serve


@dataclass
class World:
    live: LiveApp
    key_a: str
    key_b: str
    http: httpx.AsyncClient


@pytest.fixture
async def world(settings: Settings, embedder: MiniLMEmbedder) -> AsyncIterator[World]:
    async with serve(create_app(settings, embedder=embedder)) as live:
        services = live.services
        async with services.sessions.begin() as session:
            alpha = await workspaces.create(session, "alpha")
            beta = await workspaces.create(session, "beta")
            _, key_a = await apikeys.create(session, alpha, "viewer")
            _, key_b = await apikeys.create(session, beta, "viewer")
        await ingest_all(
            services.indexer,
            alpha,
            [
                IncomingDocument(
                    "vpn.md", b"# VPN\n\nRequest VPN access in the IT portal on day one.", "vpn.md"
                )
            ],
        )
        await ingest_all(
            services.indexer,
            beta,
            [IncomingDocument("pager.md", b"# Paging\n\nPage the SRE lead for a SEV1 incident.", "pager.md")],
        )
        async with httpx.AsyncClient(base_url=live.base_url, timeout=30) as http:
            yield World(live, key_a, key_b, http)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_search_and_ask_answer_from_the_keys_workspace(world: World) -> None:
    response = await world.http.post(
        "/api/v1/workspaces/alpha/search", json={"query": "VPN access"}, headers=auth(world.key_a)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["workspace"] == "alpha" and body["hits"][0]["document_id"] == "vpn.md"
    response = await world.http.post(
        "/api/v1/workspaces/alpha/ask",
        json={"question": "How do I get VPN access?"},
        headers=auth(world.key_a),
    )
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) >= {
        "workspace",
        "question",
        "answer",
        "abstained",
        "confidence",
        "mode",
        "citations",
        "related_questions",
        "model",
        "usage",
        "latency_ms",
    }
    assert answer["mode"] == "extractive" and not answer["abstained"]
    citation = answer["citations"][0]
    assert citation["document_id"] == "vpn.md" and "IT portal" in citation["quote"]
    assert citation["end"] - citation["start"] == len(citation["quote"])


async def test_a_search_is_audited_after_its_response(world: World) -> None:
    """The audit row is written once the response is sent: it appears, naming the key and what was shown."""
    response = await world.http.post(
        "/api/v1/workspaces/alpha/search", json={"query": "VPN access"}, headers=auth(world.key_a)
    )
    assert response.status_code == 200
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        async with world.live.services.sessions() as session:
            entries = await audit.read(session, audit.Filter(action="search"), None)
        if entries or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.05)
    [entry] = entries
    assert entry.workspace == "alpha" and entry.target == "VPN access" and entry.channel == "api"
    assert entry.document_ids == ["vpn.md"] and entry.actor.startswith("api:apikey:")


async def test_a_key_for_one_workspace_gets_404_on_another(world: World) -> None:
    for path in ("/api/v1/workspaces/beta/search", "/api/v1/workspaces/nope/search"):
        response = await world.http.post(path, json={"query": "SEV1"}, headers=auth(world.key_a))
        assert response.status_code == 404
    response = await world.http.post(
        "/api/v1/workspaces/alpha/search", json={"query": "SEV1 paging"}, headers=auth(world.key_a)
    )
    assert all(hit["document_id"] != "pager.md" for hit in response.json()["hits"])


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer sb_x_y"},
    ],
)
async def test_missing_or_bad_keys_get_401(world: World, headers: dict[str, str]) -> None:
    response = await world.http.post("/api/v1/workspaces/alpha/search", json={"query": "x"}, headers=headers)
    assert response.status_code == 401


async def test_revoked_key_is_refused(world: World) -> None:
    async with world.live.services.sessions.begin() as session:
        prefix = world.key_a.split("_")[1]
        await apikeys.revoke(session, prefix)
    response = await world.http.post(
        "/api/v1/workspaces/alpha/search", json={"query": "x"}, headers=auth(world.key_a)
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"query": ""},
        {"query": "x", "limit": 0},
        {"query": "x", "unknown": 1},
        {"query": "x", "filters": {"collections": "notalist"}},
        {"query": "x" * 3000},
    ],
)
async def test_bad_bodies_get_422_with_a_message(world: World, body: dict[str, object]) -> None:
    response = await world.http.post("/api/v1/workspaces/alpha/search", json=body, headers=auth(world.key_a))
    assert response.status_code == 422
    assert response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("ask", {"question": "\r"}),
        ("ask", {"question": " \t\n", "conversation_id": "c-1"}),
        ("ask/export", {"question": "\r\n"}),
        ("search", {"query": "   "}),
        ("saved-queries", {"name": "blank", "kind": "ask", "query": "\r"}),
    ],
)
async def test_blank_questions_get_422_not_a_server_error(
    world: World, path: str, body: dict[str, object]
) -> None:
    """Found by the fuzz test: a question of only whitespace passed the body check and broke later."""
    response = await world.http.post(f"/api/v1/workspaces/alpha/{path}", json=body, headers=auth(world.key_a))
    assert response.status_code == 422, response.text
    assert "blank" in response.text


async def test_non_json_body_gets_422(world: World) -> None:
    response = await world.http.post(
        "/api/v1/workspaces/alpha/ask", content=b"\xff not json", headers=auth(world.key_a)
    )
    assert response.status_code == 422


async def test_health_ready_metrics_and_openapi(world: World) -> None:
    assert (await world.http.get("/healthz")).json() == {"status": "ok"}
    ready = await world.http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    metrics = (await world.http.get("/metrics")).text
    assert "switchboard_http_request_seconds" in metrics
    schema = (await world.http.get("/openapi.json")).json()
    assert "/api/v1/workspaces/{workspace}/ask" in schema["paths"]
    assert "Answer" in schema["components"]["schemas"]
    assert (await world.http.get("/docs")).status_code == 200
