"""Files on disk -> documents to ingest (CLI ``ingest``, the demo corpus, worker jobs)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from core.errors import InvalidInput
from core.indexing import IncomingDocument


def walk(paths: Sequence[Path]) -> Iterator[tuple[Path, str]]:
    """(file, external id) for every visible file under the paths; the id is the path relative to its root."""
    for root in paths:
        if not root.exists():
            raise InvalidInput(f"{root}: no such file or directory")
        if root.is_file():
            yield root, root.name
            continue
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if path.is_file() and not any(part.startswith(".") for part in relative.parts):
                yield path, relative.as_posix()


def read_documents(
    paths: Sequence[Path],
    *,
    collection: str | None,
    source: str = "cli",
    folders_as_collections: bool = False,
) -> list[IncomingDocument]:
    """Documents for the files. With ``folders_as_collections`` the first sub-folder names the collection."""
    documents = []
    for path, external_id in walk(paths):
        name = collection or "default"
        if folders_as_collections and "/" in external_id:
            name = external_id.split("/", 1)[0]
        documents.append(
            IncomingDocument(
                external_id=external_id,
                data=path.read_bytes(),
                filename=path.name,
                collection=name,
                source=source,
            )
        )
    return documents
