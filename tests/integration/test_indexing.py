"""Ingest on real SQLite/PostgreSQL and real Chroma: every file type, dedupe, update, delete, crash-redo."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pytest
from fpdf import FPDF
from sqlalchemy import func, select, update

from core import workspaces
from core.indexing import IncomingDocument, ingest_all
from core.tables import Chunk, Document, Posting, Workspace
from hub.container import Services


def pdf_bytes(pages: list[str]) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def docx_bytes(heading: str, paragraphs: list[str]) -> bytes:
    document = docx.Document()
    document.add_heading(heading, level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


SAMPLES: dict[str, tuple[str, bytes, str]] = {
    "txt": ("notes.txt", b"The staging cluster restarts every Sunday at 03:00 UTC.", "restarts every Sunday"),
    "md": ("guide.md", b"# VPN\n\nRequest VPN access in the IT portal under Network.\n", "IT portal"),
    "html": (
        "page.html",
        b"<html><head><title>Badges</title><script>var x=1;</script></head>"
        b"<body><h1>Badges</h1><p>Lost badges are replaced at the front desk on floor 2.</p></body></html>",
        "front desk on floor 2",
    ),
    "pdf": (
        "travel.pdf",
        pdf_bytes(["Travel policy.", "Hotels in London are capped at 240 GBP per night."]),
        "240 GBP",
    ),
    "docx": (
        "leave.docx",
        docx_bytes("Leave", ["Parental leave is sixteen weeks at full pay."]),
        "sixteen weeks",
    ),
    "csv": (
        "oncall.csv",
        b"team,primary,phone\npayments,Ana Ruiz,555-0101\nsearch,Li Wei,555-0102\n",
        "Li Wei",
    ),
    "json": (
        "svc.json",
        b'[{"service": "orders", "owner": "team-fulfilment", "tier": 1}]',
        "team-fulfilment",
    ),
}


async def new_workspace(services: Services, name: str) -> Workspace:
    async with services.sessions.begin() as session:
        return await workspaces.create(session, name)


async def count(services: Services, model: type[Document] | type[Chunk], workspace: Workspace) -> int:
    query = select(func.count()).select_from(model).where(model.workspace_id == workspace.id)
    async with services.sessions() as session:
        return int(await session.scalar(query) or 0)


@pytest.mark.parametrize("doc_type", sorted(SAMPLES))
async def test_every_file_type_is_ingested_and_searchable(services: Services, doc_type: str) -> None:
    workspace = await new_workspace(services, "types")
    filename, data, needle = SAMPLES[doc_type]
    [result] = await services.indexer.upsert_many(workspace, [IncomingDocument(filename, data, filename)])
    assert result.status == "created", result.error
    hits = await services.retriever.search(workspace, needle, limit=3)
    assert hits and hits[0].document_id == filename
    async with services.sessions() as session:
        document = await session.scalar(select(Document).where(Document.external_id == filename))
    assert document is not None and document.doc_type == doc_type
    assert needle in document.text
    assert hits[0].text == document.text[hits[0].start : hits[0].end]


async def test_unchanged_document_is_not_reparsed_or_reembedded(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = await new_workspace(services, "dedupe")
    doc = IncomingDocument("a.md", b"# A\n\nAlpha bravo charlie.", "a.md")
    assert (await services.indexer.upsert(workspace, doc)).status == "created"
    calls: list[int] = []
    original = services.embedder.embed

    def counting(texts: list[str]) -> object:
        calls.append(len(texts))
        return original(texts)

    monkeypatch.setattr(services.embedder, "embed", counting)
    monkeypatch.setattr("core.indexing.parse", lambda *a, **k: pytest.fail("re-parsed an unchanged document"))
    assert (await services.indexer.upsert(workspace, doc)).status == "unchanged"
    assert calls == []


async def test_update_replaces_old_chunks_everywhere(any_services: Services) -> None:
    services = any_services
    workspace = await new_workspace(services, "update")
    await services.indexer.upsert(
        workspace, IncomingDocument("p.md", b"# Policy\n\nThe limit is zebra-forty.", "p.md")
    )
    result = await services.indexer.upsert(
        workspace, IncomingDocument("p.md", b"# Policy\n\nThe limit is yak-fifty.", "p.md")
    )
    assert result.status == "updated"
    assert await count(services, Document, workspace) == 1
    assert all("zebra" not in h.text for h in await services.retriever.search(workspace, "zebra", limit=5))
    hits = await services.retriever.search(workspace, "yak fifty", limit=5)
    assert [h.document_id for h in hits] == ["p.md"]
    chunks = await count(services, Chunk, workspace)
    assert chunks == result.chunks
    async with services.sessions() as session:
        postings = await session.scalar(
            select(func.count(func.distinct(Posting.chunk_id))).where(Posting.workspace_id == workspace.id)
        )
    assert postings == chunks


async def test_a_batch_of_new_changed_and_repeated_documents_leaves_one_consistent_copy_each(
    any_services: Services,
) -> None:
    """One batch is written with one transaction and one vector upsert: new and changed documents side by
    side, and a document that comes twice ends as its later copy, with nothing of the earlier left."""
    services = any_services
    workspace = await new_workspace(services, "batch")
    await ingest_all(
        services.indexer, workspace, [IncomingDocument(f"{i}.txt", b"Walrus %d." % i) for i in range(3)]
    )
    batch = [
        IncomingDocument("0.txt", b"Narwhal tusk care."),  # changed
        IncomingDocument("new.txt", b"Ocelot enclosure rota."),  # new
        IncomingDocument("twice.txt", b"Pangolin diet, first draft."),
        IncomingDocument("1.txt", b"Walrus 1."),  # unchanged
        IncomingDocument("twice.txt", b"Axolotl tank, final copy."),
    ]
    results = await services.indexer.upsert_many(workspace, batch)
    assert [r.status for r in results] == ["updated", "created", "created", "unchanged", "updated"]
    assert await count(services, Document, workspace) == 5
    async with services.sessions() as session:
        chunk_ids = set(
            (await session.scalars(select(Chunk.id).where(Chunk.workspace_id == workspace.id))).all()
        )
        postings = set(
            (
                await session.scalars(select(Posting.chunk_id).where(Posting.workspace_id == workspace.id))
            ).all()
        )
        texts = dict((await session.execute(select(Document.external_id, Document.text))).all())
    assert await services.vectors.chunk_ids(workspace.uid) == chunk_ids == postings
    assert len(chunk_ids) == 5
    assert texts["twice.txt"] == "Axolotl tank, final copy." and texts["0.txt"] == "Narwhal tusk care."
    assert [h.document_id for h in await services.retriever.search(workspace, "axolotl tank", limit=1)] == [
        "twice.txt"
    ]
    hits = await services.retriever.search(workspace, "pangolin diet walrus", limit=10)
    assert all("pangolin" not in h.text.lower() for h in hits)
    assert {h.document_id for h in hits if "walrus" in h.text.lower()} == {"1.txt", "2.txt"}


async def test_delete_removes_document_chunks_postings_and_vectors(any_services: Services) -> None:
    services = any_services
    workspace = await new_workspace(services, "delete")
    await services.indexer.upsert(
        workspace, IncomingDocument("gone.txt", b"Quokka migration notes.", "gone.txt")
    )
    await services.indexer.upsert(
        workspace, IncomingDocument("kept.txt", b"Penguin feeding notes.", "kept.txt")
    )
    assert await services.indexer.delete(workspace, "upload", "gone.txt") is True
    assert await services.indexer.delete(workspace, "upload", "gone.txt") is False
    hits = await services.retriever.search(workspace, "quokka migration", limit=5)
    assert all(h.document_id == "kept.txt" for h in hits)
    vector_hits = await services.vectors.query(
        workspace.uid, services.embedder.embed(["quokka migration notes"])[0], limit=10, where=None
    )
    assert len(vector_hits) == await count(services, Chunk, workspace)


async def test_crash_between_db_and_vector_write_is_redone_not_skipped(services: Services) -> None:
    workspace = await new_workspace(services, "crash")
    doc = IncomingDocument("c.txt", b"Capybara onboarding checklist for new hires.", "c.txt")
    await services.indexer.upsert(workspace, doc)
    async with services.sessions.begin() as session:  # as if the process died before marking it indexed
        await session.execute(update(Document).values(indexed=False))
    assert (await services.indexer.upsert(workspace, doc)).status == "updated"
    vector_hits = await services.vectors.query(
        workspace.uid, services.embedder.embed([doc.data.decode()])[0], limit=10, where=None
    )
    assert len(vector_hits) == await count(services, Chunk, workspace)


async def test_a_bad_file_fails_alone(services: Services) -> None:
    workspace = await new_workspace(services, "mixed")
    batch = [
        IncomingDocument("ok.txt", b"Walrus tusks are ivory.", "ok.txt"),
        IncomingDocument("bad.txt", b"\xff\xfe\x00invalid", "bad.txt"),
        IncomingDocument("empty.md", b"   ", "empty.md"),
    ]
    results = await ingest_all(services.indexer, workspace, batch)
    assert [r.status for r in results] == ["created", "failed", "failed"]
    assert all(r.error for r in results[1:])
    assert await count(services, Document, workspace) == 1


async def test_folder_ingest_reads_every_type(services: Services, tmp_path: Path) -> None:
    from hub.files import read_documents

    for filename, data, _ in SAMPLES.values():
        (tmp_path / "docs" / "sub").mkdir(parents=True, exist_ok=True)
        (tmp_path / "docs" / "sub" / filename).write_bytes(data)
    (tmp_path / "docs" / ".hidden").write_text("secret")
    documents = read_documents([tmp_path / "docs"], collection=None, folders_as_collections=True)
    assert sorted(d.external_id for d in documents) == sorted(f"sub/{f}" for f, _, _ in SAMPLES.values())
    assert {d.collection for d in documents} == {"sub"}
    workspace = await new_workspace(services, "folder")
    results = await ingest_all(services.indexer, workspace, documents)
    assert {r.status for r in results} == {"created"}
