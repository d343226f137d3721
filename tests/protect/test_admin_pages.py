"""Issue 10's admin pages over real HTTP (real app, real arq worker, real Redis): analytics with charts and
CSV, webhooks created on the page with their delivery log, saved queries rerun with a diff, exports."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Response
from pypdf import PdfReader

from core import workspaces
from core.embeddings import MiniLMEmbedder
from core.events import BudgetExceeded
from core.indexing import IncomingDocument, ingest_all
from core.tables import AnswerLog, Workspace
from hub.settings import JobSettings, OutboundWebhookSettings, Settings
from tests.support.admin import AdminHub, admin_hub, login, page_csrf
from tests.support.live import serve
from tests.support.workers import flush, running_worker


@pytest.fixture
async def hub(
    tmp_path: Path, redis_url: str, chroma_server: str, embedder: MiniLMEmbedder
) -> AsyncIterator[AdminHub]:
    await flush(redis_url)
    settings = Settings(
        data_dir=tmp_path / "var",
        redis_url=redis_url,
        chroma_url=chroma_server,
        webhooks=OutboundWebhookSettings(allow_private_targets=True),
        jobs=JobSettings(retry_base_s=0.2, retry_max_s=1),
    )
    async with admin_hub(settings, embedder) as hub, running_worker(settings, embedder):
        async with hub.live.services.sessions.begin() as session:
            alpha = await workspaces.get(session, "alpha")
            for n, latency in enumerate((120.0, 80.0, 400.0)):
                session.add(
                    AnswerLog(
                        workspace_id=alpha.id,
                        platform="slack",
                        user_id="U1",
                        question=f"vpn setup {n}",
                        answer="a",
                        abstained=n == 2,
                        confidence=1,
                        mode="extractive",
                        document_ids=["vpn.md"],
                        latency_ms=latency,
                    )
                )
        doc = IncomingDocument("vpn.md", b"# VPN\n\nRequest VPN access in the IT portal.", "vpn.md")
        await ingest_all(hub.live.services.indexer, alpha, [doc])
        yield hub


async def test_analytics_page_shows_figures_charts_and_csv(hub: AdminHub) -> None:
    async with hub.client() as http:
        await login(http, "owner@example.com")
        page = await http.get("/admin/analytics?workspace=alpha&days=7")
        assert page.status_code == 200
        assert re.search(r'data-key="questions">3<', page.text) and re.search(
            r'data-key="abstained">1<', page.text
        )
        assert 'src="/admin/w/alpha/analytics/questions_per_day.svg?days=7"' in page.text
        chart = await http.get("/admin/w/alpha/analytics/top_topics.svg")
        assert chart.headers["content-type"].startswith("image/svg+xml") and ">vpn<" in chart.text
        exported = await http.get("/admin/w/alpha/analytics/cited_documents.csv")
        assert list(csv.reader(io.StringIO(exported.text))) == [["document_id", "answers"], ["vpn.md", "3"]]
    async with hub.client() as http:  # a viewer has no analytics; a beta admin cannot reach alpha's
        await login(http, "viewer@example.com")
        assert (await http.get("/admin/analytics")).status_code == 403
    async with hub.client() as http:
        await login(http, "beta-admin@example.com")
        assert (await http.get("/admin/w/alpha/analytics/gaps.csv")).status_code == 404
        assert "vpn setup" not in (await http.get("/admin/analytics")).text


async def test_webhook_created_on_the_page_shows_its_delivery_log(hub: AdminHub) -> None:
    hits: list[int] = []
    receiver = FastAPI()

    @receiver.post("/hook")
    async def hook() -> Response:
        hits.append(1)
        return Response(status_code=503 if len(hits) == 1 else 200)

    async with serve(receiver) as sink, hub.client() as http:
        await login(http, "owner@example.com")
        csrf = await page_csrf(http, "/admin/webhooks")
        form = {
            "csrf": csrf,
            "workspace": "alpha",
            "url": f"{sink.base_url}/hook",
            "events": ["budget.reached"],
        }
        created = await http.post("/admin/webhooks", data=form)
        assert created.status_code == 200 and "whsec_" in created.text
        listed = await http.get("/admin/webhooks")
        sub_id = re.search(r'<tr data-id="(\d+)">', listed.text)
        assert sub_id is not None
        await hub.live.services.events.publish(BudgetExceeded("alpha", "2026-11", 2, 1))
        log_url = f"/admin/w/alpha/webhooks/{sub_id.group(1)}"
        for _ in range(100):
            log = await http.get(log_url)
            if "delivery-delivered" in log.text:
                break
            await asyncio.sleep(0.1)
        assert (
            log.text.count('class="delivery-failed"') == 1
            and log.text.count('class="delivery-delivered"') == 1
        )
        audit = await http.get("/admin/audit?action=webhook.create")
        assert "webhook.create" in audit.text


async def test_saved_queries_rerun_with_a_diff_and_exports(hub: AdminHub) -> None:
    async with hub.client() as http:
        await login(http, "editor@example.com")
        csrf = await page_csrf(http, "/admin/saved")
        saved = await http.post(
            "/admin/saved",
            data={"csrf": csrf, "workspace": "alpha", "name": "vpn", "query": "VPN portal", "shared": "true"},
        )
        assert saved.status_code == 303
        listing = await http.get("/admin/saved")
        run_url = re.search(r'action="(/admin/w/alpha/saved/\d+/run)"', listing.text)
        assert run_url is not None
        first = await http.post(run_url.group(1), data={"csrf": csrf})
        assert "First run" in first.text and "vpn.md" in first.text
        extra = IncomingDocument(
            "portal.md", b"# Portal\n\nThe VPN portal lives at portal.example.", "portal.md"
        )
        alpha = await workspaces_alpha(hub)
        await ingest_all(hub.live.services.indexer, alpha, [extra])
        second = await http.post(run_url.group(1), data={"csrf": csrf})
        assert re.search(r'id="diff-added">portal.md<', second.text)
        pdf = await http.post(
            "/admin/export", data={"csrf": csrf, "workspace": "alpha", "query": "VPN access", "format": "pdf"}
        )
        assert pdf.headers["content-type"] == "application/pdf"
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
        assert "VPN" in text
        for path in ("/admin/saved", "/admin/export"):
            form = {"csrf": csrf, "workspace": "alpha", "name": "blank", "query": "\r\n", "kind": "ask"}
            blank = await http.post(path, data=form)
            assert blank.status_code == 422 and "blank" in blank.text, path
    async with hub.client() as http:  # shared: the viewer of alpha sees it too
        await login(http, "viewer@example.com")
        assert 'data-name="vpn"' in (await http.get("/admin/saved")).text


async def workspaces_alpha(hub: AdminHub) -> Workspace:
    async with hub.live.services.sessions() as session:
        return await workspaces.get(session, "alpha")
