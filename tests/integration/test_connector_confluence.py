"""Confluence through the one sync loop, on SQLite and PostgreSQL: a full sync, an incremental one that
fetches only what changed, deletions swept, attachments, and ACLs mapped from read restrictions and
enforced at query time. The real atlassian-python-api client talks to the loopback fake."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fpdf import FPDF
from sqlalchemy import func, select

from core import workspaces
from core.jobs import ItemResult
from core.retrieval import Access
from core.tables import Chunk, Document, Source, Workspace
from hub import sources
from hub.container import Services
from tests.fakes.confluence import Attachment, FakeConfluence, fake_confluence

SECRET = {"username": "bot@example.com", "password": "api-token-123"}


def pdf_bytes(text: str) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 10, text)
    out = io.BytesIO()
    pdf.output(out)
    return out.getvalue()


@pytest.fixture
async def wiki() -> AsyncIterator[FakeConfluence]:
    async with fake_confluence() as fake:
        fake.add(
            "101", "Onboarding", "<h1>Welcome</h1><h2>Laptops</h2><p>Laptops are ordered by IT.</p>", minute=0
        )
        fake.add(
            "102",
            "Budget",
            "<h2>Quarterly budget</h2><p>The quarterly budget for marketing is 40k.</p>",
            minute=1,
            groups=["finance"],
        )
        fake.add(
            "103",
            "Salary review",
            "<p>The salary review meeting for Alice happens in March.</p>",
            minute=2,
            users=["Alice@Example.com"],
        )
        fake.add(
            "105", "Budget details", "<p>Marketing budget line items for events.</p>", minute=4, parent="102"
        )
        fake.add(
            "104",
            "Runbooks",
            "<h2>Pager</h2><p>The pager rotation changes weekly.</p>",
            minute=3,
            attachments=[
                Attachment(
                    "att9", "failover.pdf", "application/pdf", pdf_bytes("Failover drill: flip the DNS.")
                )
            ],
        )
        yield fake


async def make_source(services: Services, fake: FakeConfluence) -> tuple[Workspace, Source]:
    async with services.sessions.begin() as session:
        workspace = await workspaces.create(session, "wiki")
    config = {"url": fake.base_url, "space": fake.space, "page_size": 2}
    source = await sources.add(
        services,
        workspace,
        source_type="confluence",
        name="eng",
        collection="handbook",
        config=config,
        secret=SECRET,
    )
    return workspace, source


async def sync_once(services: Services, workspace: Workspace, source_id: int) -> dict[str, int]:
    seen: list[ItemResult] = []

    async def report(results: list[ItemResult]) -> None:
        seen.extend(results)

    source = await sources.get(services, workspace, source_id)
    await services.ports.syncers["confluence"](source, report)
    counts: dict[str, int] = {}
    for result in seen:
        counts[result.status] = counts.get(result.status, 0) + 1
    return counts


async def titles(services: Services, workspace: Workspace, query: str, access: Access) -> set[str]:
    hits = await services.retriever.search(workspace, query, limit=10, access=access)
    return {hit.title for hit in hits}


async def test_full_then_incremental_sync_with_deletes_attachments_and_acls(
    conn_services: Services, wiki: FakeConfluence
) -> None:
    services = conn_services
    workspace, source = await make_source(services, wiki)
    assert source.secret and "api-token-123" not in source.secret  # encrypted at rest

    assert await sync_once(services, workspace, source.id) == {"created": 6}
    async with services.sessions() as session:
        docs = {d.external_id: d for d in (await session.scalars(select(Document))).all()}
    assert set(docs) == {
        f"{source.id}:{i}" for i in ("101", "102", "103", "104", "105", "104/attachment/att9")
    }
    onboarding = docs[f"{source.id}:101"]
    assert onboarding.url == f"{wiki.base_url}/spaces/ENG/pages/101" and onboarding.acl is None
    assert "Laptops" in onboarding.text and onboarding.source == "confluence"
    assert docs[f"{source.id}:102"].acl == ["group:finance"]
    assert docs[f"{source.id}:103"].acl == ["alice@example.com"]
    assert docs[f"{source.id}:105"].acl == ["group:finance"]  # inherited from its restricted parent
    assert "flip the DNS" in docs[f"{source.id}:104/attachment/att9"].text
    first_round = len(wiki.searches)

    # ACLs at query time: a group-restricted page never reaches an asker outside the group.
    outsider = Access(principals=("bob@example.com", "group:engineering"))
    assert "Budget" not in await titles(services, workspace, "quarterly budget marketing", outsider)
    assert "Budget" in await titles(
        services, workspace, "quarterly budget marketing", Access(principals=("group:finance",))
    )
    assert "Salary review" not in await titles(
        services, workspace, "salary review meeting", Access(public_only=True)
    )
    alice = Access(principals=("alice@example.com",))
    assert "Salary review" in await titles(services, workspace, "salary review meeting", alice)

    # Second sync: one page changed, one deleted; only what changed since the cursor is fetched.
    wiki.add(
        "102",
        "Budget",
        "<p>The quarterly budget for marketing is now 55k.</p>",
        minute=10,
        groups=["finance"],
    )
    del wiki.pages["101"]
    counts = await sync_once(services, workspace, source.id)
    assert counts.get("updated") == 1 and counts.get("deleted") == 1 and "created" not in counts
    incremental = [s for s in wiki.searches[first_round:] if "lastmodified >=" in s["cql"]]
    assert incremental and all('lastmodified >= "2026/01/05 09:04"' in s["cql"] for s in incremental)
    assert counts.get("unchanged", 0) <= 2  # only the boundary minute is read again
    async with services.sessions() as session:
        remaining = set((await session.scalars(select(Document.external_id))).all())
        orphans = await session.scalar(
            select(func.count()).select_from(Chunk).where(Chunk.document_id.not_in(select(Document.id)))
        )
    assert f"{source.id}:101" not in remaining and len(remaining) == 5 and orphans == 0
    assert "Onboarding" not in await titles(services, workspace, "laptops ordered", Access())


async def test_source_validation_and_removal(conn_services: Services, wiki: FakeConfluence) -> None:
    from core.errors import AlreadyExists, InvalidInput, NotFound

    services = conn_services
    workspace, source = await make_source(services, wiki)
    with pytest.raises(InvalidInput, match="space"):
        await sources.add(
            services, workspace, source_type="confluence", name="x", config={"url": wiki.base_url}
        )
    with pytest.raises(InvalidInput, match="unknown source type"):
        await sources.add(services, workspace, source_type="gopher", name="y", config={})
    with pytest.raises(InvalidInput, match="only http and https"):
        await sources.add(
            services, workspace, source_type="web", name="z", config={"urls": ["file:///etc/passwd"]}
        )
    with pytest.raises(AlreadyExists):
        await sources.add(
            services, workspace, source_type="web", name="eng", config={"urls": ["https://a.b/"]}
        )
    await sync_once(services, workspace, source.id)
    assert await sources.remove(services, workspace, "eng") == 6
    with pytest.raises(NotFound):
        await sources.get(services, workspace, source.id)
    async with services.sessions() as session:
        left: Any = await session.scalar(select(func.count()).select_from(Document))
    assert left == 0
