"""Analytics, exports and saved queries over real HTTP against the real app (SQLite, real Redis):
figures match a scripted history; CSV and PDF exports parse back; reruns diff against the last run;
REST rate limits trip with 429 + Retry-After and recover."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pypdf import PdfReader

from core import apikeys, workspaces
from core.embeddings import MiniLMEmbedder
from core.indexing import IncomingDocument, ingest_all
from core.tables import AnswerFeedback, AnswerLog, ChatAnswer, LLMCall, Workspace, utcnow
from hub.app import create_app
from hub.settings import RateLimitSettings, Settings
from tests.support.live import LiveApp, serve
from tests.support.workers import flush

DOCS = [
    ("vpn.md", b"# VPN\n\nRequest VPN access in the IT portal on day one. The VPN client is GlobalProtect."),
    (
        "laptop.md",
        b"# Laptops\n\nLaptops are replaced every three years; request a new laptop in the IT portal.",
    ),
]


@dataclass
class World:
    live: LiveApp
    http: httpx.AsyncClient
    admin: str
    viewer: str
    other: str
    workspace: Workspace


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def open_world(settings: Settings, embedder: MiniLMEmbedder) -> AsyncIterator[World]:
    async with serve(create_app(settings, embedder=embedder)) as live:
        async with live.services.sessions.begin() as session:
            alpha = await workspaces.create(session, "alpha")
            beta = await workspaces.create(session, "beta")
            _, admin = await apikeys.create(session, alpha, "admin")
            _, viewer = await apikeys.create(session, alpha, "viewer")
            _, other = await apikeys.create(session, beta, "admin")
        await ingest_all(live.services.indexer, alpha, [IncomingDocument(n, b, n) for n, b in DOCS])
        async with httpx.AsyncClient(base_url=live.base_url, timeout=60) as http:
            yield World(live, http, admin, viewer, other, alpha)


@pytest.fixture
async def world(tmp_path: Path, redis_url: str, embedder: MiniLMEmbedder) -> AsyncIterator[World]:
    await flush(redis_url)
    settings = Settings(data_dir=tmp_path / "var", redis_url=redis_url)
    async for opened in open_world(settings, embedder):
        yield opened


async def script_history(world: World) -> None:
    """Five questions over two days (one abstained), two 👍 and one 👎, three LLM calls."""
    now = utcnow()
    questions = [
        ("How do I get VPN access?", False, 100.0, ["vpn.md"], 0),
        ("VPN client download", False, 200.0, ["vpn.md", "laptop.md"], 0),
        ("When is my laptop replaced?", False, 300.0, ["laptop.md"], 1),
        ("What is the parking policy?", True, 400.0, [], 1),
        ("what is the  parking policy?", True, 1000.0, [], 1),
    ]
    async with world.live.services.sessions.begin() as session:
        ws = world.workspace.id
        for text, abstained, latency, docs, days_ago in questions:
            session.add(
                AnswerLog(
                    workspace_id=ws,
                    platform="slack",
                    channel_id="C1",
                    user_id="U1",
                    question=text,
                    answer="a",
                    abstained=abstained,
                    confidence=0.5,
                    mode="extractive",
                    document_ids=docs,
                    latency_ms=latency,
                    created_at=now - timedelta(days=days_ago, minutes=1),
                )
            )
        chat = ChatAnswer(workspace_id=ws, token="t" * 24, platform="slack", question="q", answer="a")
        session.add(chat)
        await session.flush()
        for user, rating in (("U1", 1), ("U2", 1), ("U3", -1)):
            session.add(
                AnswerFeedback(
                    chat_answer_id=chat.id,
                    workspace_id=ws,
                    platform="slack",
                    user_id=user,
                    rating=rating,
                    question="q",
                    answer="a",
                )
            )
        for provider, channel, user, cost in (
            ("openai", "C1", "U1", 0.5),
            ("openai", "C2", "U2", 0.25),
            ("local", "C1", "U1", 0.125),
        ):
            session.add(
                LLMCall(
                    workspace_id=ws,
                    platform="slack",
                    channel_id=channel,
                    user_id=user,
                    provider=provider,
                    model="m",
                    purpose="answer",
                    input_tokens=100,
                    output_tokens=10,
                    cost_usd=cost,
                )
            )


async def test_analytics_match_a_scripted_history(world: World) -> None:
    await script_history(world)
    response = await world.http.get("/api/v1/workspaces/alpha/analytics?days=7", headers=auth(world.admin))
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["summary"] == {
        "questions": 5,
        "abstained": 2,
        "latency_ms_p50": 300.0,
        "latency_ms_p95": 1000.0,
        "feedback_up": 2,
        "feedback_down": 1,
        "feedback_ratio": 0.6667,
        "cost_usd": 0.875,
        "llm_calls": 3,
    }
    tables = report["tables"]
    assert [r[1] for r in tables["questions_per_day"]["rows"]] == [3, 2]
    assert tables["gaps"]["rows"] == [
        ["What is the parking policy?", 1],
        ["what is the parking policy?", 1],
    ] or (sorted(r[1] for r in tables["gaps"]["rows"]) == [1, 1])
    assert tables["cited_documents"]["rows"] == [["vpn.md", 2], ["laptop.md", 2]] or sorted(
        tables["cited_documents"]["rows"]
    ) == [["laptop.md", 2], ["vpn.md", 2]]
    assert dict(map(tuple, tables["top_topics"]["rows"]))["vpn"] == 2
    assert dict(map(tuple, tables["top_topics"]["rows"]))["parking"] == 2
    assert tables["cost_by_provider"]["rows"] == [["openai", 2, 200, 20, 0.75], ["local", 1, 100, 10, 0.125]]
    assert tables["cost_by_channel"]["rows"][0] == ["C1", 2, 200, 20, 0.625]
    assert tables["cost_by_user"]["rows"][1] == ["U2", 1, 100, 10, 0.25]

    exported = await world.http.get(
        "/api/v1/workspaces/alpha/analytics/cost_by_provider/csv", headers=auth(world.admin)
    )
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == ["provider", "calls", "input_tokens", "output_tokens", "cost_usd"]
    assert rows[1] == ["openai", "2", "200", "20", "0.75"]
    chart = await world.http.get(
        "/api/v1/workspaces/alpha/analytics/questions_per_day/svg", headers=auth(world.admin)
    )
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert chart.text.startswith("<svg") and chart.text.count("<rect") == 2

    # Scoped: beta sees none of alpha's figures, a viewer key may not read them.
    beta = await world.http.get("/api/v1/workspaces/beta/analytics", headers=auth(world.other))
    assert beta.json()["summary"]["questions"] == 0
    viewer = await world.http.get("/api/v1/workspaces/alpha/analytics", headers=auth(world.viewer))
    assert viewer.status_code == 403


async def test_search_and_ask_export_as_csv_and_pdf(world: World) -> None:
    url = "/api/v1/workspaces/alpha"
    found = await world.http.post(
        f"{url}/search/export?format=csv", json={"query": "VPN access"}, headers=auth(world.viewer)
    )
    assert found.status_code == 200, found.text
    rows = list(csv.DictReader(io.StringIO(found.text)))
    assert rows[0]["document_id"] == "vpn.md" and "GlobalProtect" in " ".join(r["text"] for r in rows)

    pdf = await world.http.post(
        f"{url}/search/export?format=pdf", json={"query": "VPN access"}, headers=auth(world.viewer)
    )
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Search: VPN access" in text and "VPN" in text

    answer_pdf = await world.http.post(
        f"{url}/ask/export?format=pdf",
        json={"question": "How often are laptops replaced?"},
        headers=auth(world.viewer),
    )
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(answer_pdf.content)).pages)
    assert "Question: How often are laptops replaced?" in text and "three years" in text
    answer_csv = await world.http.post(
        f"{url}/ask/export?format=csv",
        json={"question": "How often are laptops replaced?"},
        headers=auth(world.viewer),
    )
    cited = list(csv.DictReader(io.StringIO(answer_csv.text)))
    assert cited[0]["n"] == "answer" and any(r["document_id"] == "laptop.md" for r in cited[1:])
    bad = await world.http.post(
        f"{url}/search/export?format=docx", json={"query": "x"}, headers=auth(world.viewer)
    )
    assert bad.status_code == 422


async def test_csv_cells_cannot_run_as_formulas(world: World) -> None:
    async with world.live.services.sessions.begin() as session:
        session.add(
            AnswerLog(
                workspace_id=world.workspace.id,
                platform="api",
                question='=HYPERLINK("x")',
                answer="",
                abstained=True,
                confidence=0,
                mode="extractive",
                latency_ms=1,
            )
        )
    exported = await world.http.get("/api/v1/workspaces/alpha/analytics/gaps/csv", headers=auth(world.admin))
    assert list(csv.reader(io.StringIO(exported.text)))[1][0] == '\'=HYPERLINK("x")'


async def test_saved_queries_share_rerun_and_diff(world: World) -> None:
    url = "/api/v1/workspaces/alpha/saved-queries"
    mine = await world.http.post(url, json={"name": "vpn", "query": "VPN portal"}, headers=auth(world.admin))
    shared = await world.http.post(
        url,
        json={"name": "laptops", "query": "laptop", "kind": "ask", "shared": True},
        headers=auth(world.admin),
    )
    assert mine.status_code == shared.status_code == 201
    seen_by_viewer = await world.http.get(url, headers=auth(world.viewer))
    assert [q["name"] for q in seen_by_viewer.json()] == ["laptops"]  # private ones stay private
    hidden = await world.http.post(f"{url}/{mine.json()['id']}/run", headers=auth(world.viewer))
    assert hidden.status_code == 404
    beta = await world.http.post(f"{url}/{shared.json()['id']}/run", headers=auth(world.other))
    assert beta.status_code == 404

    first = (await world.http.post(f"{url}/{mine.json()['id']}/run", headers=auth(world.admin))).json()
    assert first["diff"]["first_run"] is True and "vpn.md" in first["documents"]
    again = (await world.http.post(f"{url}/{mine.json()['id']}/run", headers=auth(world.admin))).json()
    assert again["diff"] == {
        "first_run": False,
        "added": [],
        "removed": [],
        "moved": [],
        "answer_changed": False,
    }

    faq = b"# VPN FAQ\n\nThe VPN portal FAQ: VPN portal VPN portal answers for the VPN portal."
    await ingest_all(
        world.live.services.indexer, world.workspace, [IncomingDocument("faq.md", faq, "faq.md")]
    )
    changed = (await world.http.post(f"{url}/{mine.json()['id']}/run", headers=auth(world.admin))).json()
    assert changed["diff"]["added"] == ["faq.md"]

    ask_run = (await world.http.post(f"{url}/{shared.json()['id']}/run", headers=auth(world.viewer))).json()
    assert ask_run["answer"] and ask_run["saved_query"]["mine"] is False
    not_owner = await world.http.delete(f"{url}/{shared.json()['id']}", headers=auth(world.viewer))
    assert not_owner.status_code == 403
    assert (
        await world.http.delete(f"{url}/{shared.json()['id']}", headers=auth(world.admin))
    ).status_code == 204


async def test_rest_rate_limits_trip_and_recover(
    tmp_path: Path, redis_url: str, embedder: MiniLMEmbedder
) -> None:
    await flush(redis_url)
    settings = Settings(
        data_dir=tmp_path / "var",
        redis_url=redis_url,
        rate_limits=RateLimitSettings(api_key="3/second", workspace="5/second"),
    )
    async for world in open_world(settings, embedder):
        url = "/api/v1/workspaces/alpha/suggest?q=vpn"
        await asyncio.sleep(1.0 - (asyncio.get_running_loop().time() % 1.0) + 0.05)  # not at a window's edge
        codes = [(await world.http.get(url, headers=auth(world.viewer))).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = await world.http.get(url, headers=auth(world.viewer))
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        await asyncio.sleep(float(limited.headers["retry-after"]) + 0.1)
        assert (await world.http.get(url, headers=auth(world.viewer))).status_code == 200  # recovered

        # The workspace limit counts every key of the workspace together.
        world.live.services.settings.rate_limits = RateLimitSettings(
            api_key="100/second", workspace="3/second"
        )
        await asyncio.sleep(1.1)
        keys = [world.viewer, world.admin, world.viewer, world.admin]
        codes = [(await world.http.get(url, headers=auth(k))).status_code for k in keys]
        assert codes == [200, 200, 200, 429]
