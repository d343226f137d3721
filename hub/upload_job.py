"""Uploads, worker side: spooled files (zip archives expanded safely) -> items -> the Indexer, in batches.

Every bad file becomes one failed item with a clear error; the good ones are indexed. Safe to run again
after a crash: the Indexer skips documents whose indexed copy has the same content hash.
"""

from __future__ import annotations

import asyncio
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ParseError
from core.indexing import IncomingDocument
from core.ingest import archive
from core.ingest.archive import ArchiveLimits, Member
from core.ingest.parse import detect_type
from core.jobs import ItemResult, JobRecorder
from core.tables import Job, Workspace
from hub.container import Services
from hub.settings import Settings

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
BATCH_ITEMS = 32
BATCH_BYTES = 64 * 1024 * 1024
MISSING = "the spooled file is missing (API and workers must share SWITCHBOARD_INGEST__SPOOL_DIR)"


@dataclass(frozen=True, slots=True)
class Item:
    """One document to be: a spooled file, or a member of a spooled zip archive; or why it cannot be."""

    name: str
    path: Path
    member: Member | None = None
    error: str | None = None


def limits_of(settings: Settings) -> ArchiveLimits:
    cfg = settings.ingest
    return ArchiveLimits(
        max_members=cfg.max_archive_members,
        max_member_bytes=cfg.max_file_mb * 1024 * 1024,
        max_total_bytes=cfg.max_archive_mb * 1024 * 1024,
        max_ratio=cfg.max_zip_ratio,
    )


def plan(files: list[dict[str, Any]], limits: ArchiveLimits) -> list[Item]:
    """The upload's items in order; archives are listed (not yet inflated) member by member."""
    items: list[Item] = []
    for spooled in files:
        name, path = str(spooled["name"]), Path(spooled["path"])
        if spooled.get("error"):
            items.append(Item(name, path, error=str(spooled["error"])))
        elif not path.is_file():
            items.append(Item(name, path, error=MISSING))
        elif path.stat().st_size == 0:
            items.append(Item(name, path, error="empty file"))
        elif is_archive(path):
            items.extend(expand(name, path, limits))
        else:
            items.append(Item(name, path))
    return items


def is_archive(path: Path) -> bool:
    """A zip that is not a .docx document (a .docx is a zip too, and is parsed as one document)."""
    with path.open("rb") as handle:
        if not handle.read(4).startswith(ZIP_MAGIC):
            return False
    try:
        with zipfile.ZipFile(path) as zipped:
            return "word/document.xml" not in zipped.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return True  # damaged: expand() reports it


def expand(name: str, path: Path, limits: ArchiveLimits) -> list[Item]:
    try:
        members = archive.members(path, limits)
    except ParseError as exc:
        return [Item(name, path, error=str(exc))]
    return [Item(f"{name}/{m.name}", path, m, m.error) for m in members]


def load(item: Item, collection: str, limits: ArchiveLimits) -> IncomingDocument:
    """Read and sniff one item; raises ParseError with the reason it cannot be indexed."""
    if item.error:
        raise ParseError(item.error)
    data = archive.read_member(item.path, item.member, limits) if item.member else item.path.read_bytes()
    if not data:
        raise ParseError("empty file")
    filename = item.name.rsplit("/", 1)[-1]
    return IncomingDocument(
        external_id=item.name,
        data=data,
        filename=filename,
        collection=collection,
        source="upload",
        doc_type=detect_type(data, filename),
    )


def batches(items: list[Item]) -> Iterator[list[Item]]:
    batch: list[Item] = []
    size = 0
    for item in items:
        batch.append(item)
        size += (
            item.member.info.file_size
            if item.member
            else item.path.stat().st_size
            if item.path.is_file()
            else 0
        )
        if len(batch) >= BATCH_ITEMS or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def load_batch(
    batch: list[Item], collection: str, limits: ArchiveLimits
) -> tuple[list[IncomingDocument], list[ItemResult]]:
    documents: list[IncomingDocument] = []
    failed: list[ItemResult] = []
    for item in batch:
        try:
            documents.append(load(item, collection, limits))
        except (ParseError, OSError) as exc:
            failed.append(ItemResult(item.name, "failed", str(exc)))
    return documents, failed


async def run_upload(services: Services, recorder: JobRecorder, job: Job) -> None:
    """The body of the ``ingest_upload`` job."""
    limits = limits_of(services.settings)
    items = await asyncio.to_thread(plan, list(job.params.get("files", [])), limits)
    await recorder.start(total=len(items))
    async with services.sessions() as session:
        workspace = await session.get(Workspace, job.workspace_id)
    if workspace is None:
        await recorder.finish("failed", "the workspace was deleted")
        return
    collection = str(job.params.get("collection") or "default")
    for batch in batches(items):
        documents, failed = await asyncio.to_thread(load_batch, batch, collection, limits)
        results = await services.indexer.upsert_many(workspace, documents) if documents else []
        indexed = [ItemResult(r.external_id, r.status, r.error) for r in results]
        await recorder.report(failed + indexed)
    await recorder.finish("done")


def discard_spool(job: Job) -> None:
    spool = job.params.get("spool")
    if spool:
        shutil.rmtree(spool, ignore_errors=True)
