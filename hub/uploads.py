"""Uploads, API side: one multipart request streamed file by file into a spool folder, never whole in memory.

Each file part goes to its own spool file as its bytes arrive. A file over the per-file cap is cut off
and kept as a failed item (the rest of the upload goes on); a request over the per-request cap is refused
with 413. Form fields (``collection``) are small and capped. The worker reads the spool folder, so in
scaled mode ``SWITCHBOARD_INGEST__SPOOL_DIR`` must be a location every API and worker process shares.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from fastapi import HTTPException, status
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from core.errors import InvalidInput

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks
from hub.settings import Settings

MB = 1024 * 1024
MAX_FIELD_BYTES = 1024


@dataclass
class SpooledFile:
    name: str
    path: str
    size: int = 0
    error: str | None = None


@dataclass
class Received:
    folder: Path
    files: list[SpooledFile] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    def params(self, collection: str) -> dict[str, Any]:
        return {"spool": str(self.folder), "collection": collection, "files": [asdict(f) for f in self.files]}


def safe_name(raw: str, taken: set[str], n: int) -> str:
    """The file's base name (no folders, no control characters), unique within the upload."""
    base = PurePosixPath(raw.replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable())[:200].strip() or f"file-{n}"
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base} ({k})"
    taken.add(name)
    return name


class Receiver:
    """python-multipart callbacks writing each part to disk as it streams in."""

    def __init__(self, folder: Path, max_file_bytes: int, max_files: int) -> None:
        self.received = Received(folder)
        self._max_file = max_file_bytes
        self._max_files = max_files
        self._headers: dict[bytes, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._file: SpooledFile | None = None
        self._handle: IO[bytes] | None = None
        self._field: tuple[str, bytearray] | None = None
        self._taken: set[str] = set()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._grow("_header_field", d[s:e]),
            "on_header_value": lambda d, s, e: self._grow("_header_value", d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _grow(self, attr: str, data: bytes) -> None:
        setattr(self, attr, getattr(self, attr) + data)

    def _part_begin(self) -> None:
        self._headers = {}

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in options:
            self._field = (name, bytearray())
            return
        files = self.received.files
        if len(files) >= self._max_files:
            raise InvalidInput(f"too many files in one upload (the limit is {self._max_files})")
        raw = options[b"filename"].decode("utf-8", "replace")
        spooled = SpooledFile(
            safe_name(raw, self._taken, len(files) + 1), str(self.received.folder / f"{len(files):06d}")
        )
        files.append(spooled)
        handle = Path(spooled.path).open("wb")  # noqa: SIM115 - closed at the part's end (or on error)
        self._file, self._handle = spooled, handle

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._field is not None:
            value = self._field[1]
            value += data[start:end]
            if len(value) > MAX_FIELD_BYTES:
                raise InvalidInput(f"form field {self._field[0]!r} is longer than {MAX_FIELD_BYTES} bytes")
            return
        if self._file is None or self._handle is None or self._file.error:
            return
        self._file.size += end - start
        if self._file.size > self._max_file:
            self._cut_off()
            return
        self._handle.write(data[start:end])

    def _cut_off(self) -> None:
        assert self._file is not None
        assert self._handle is not None
        self._handle.close()
        Path(self._file.path).unlink(missing_ok=True)
        self._file.error = f"file is larger than the limit of {self._max_file // MB} MB"

    def _part_end(self) -> None:
        if self._field is not None:
            self.received.fields[self._field[0]] = self._field[1].decode("utf-8", "replace")
            self._field = None
        if self._handle is not None:
            self._handle.close()
        self._file, self._handle = None, None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def boundary_of(content_type: str | None) -> bytes:
    kind, options = parse_options_header(content_type or "")
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise InvalidInput("send the files as multipart/form-data (one part per file)")
    return options[b"boundary"]


async def receive(settings: Settings, content_type: str | None, body: AsyncIterable[bytes]) -> Received:
    """Stream a multipart body into a new spool folder; on any error the folder is removed."""
    limit = settings.ingest.max_request_mb * MB
    boundary = boundary_of(content_type)
    folder = settings.spool_path / uuid.uuid4().hex
    folder.mkdir(parents=True)
    receiver = Receiver(folder, settings.ingest.max_file_mb * MB, settings.ingest.max_files)
    parser = MultipartParser(boundary, receiver.callbacks())
    seen = 0
    try:
        async for chunk in body:
            seen += len(chunk)
            if seen > limit:
                raise too_large(settings)
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        receiver.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise InvalidInput(f"malformed multipart body: {exc}") from exc
    except BaseException:
        receiver.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    receiver.close()
    return receiver.received


def too_large(settings: Settings) -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        detail=f"the upload is larger than the limit of {settings.ingest.max_request_mb} MB per request",
    )


def spool_files(settings: Settings, files: list[tuple[str, Path]]) -> Received:
    """Copy local files (named by trusted relative paths) into a new spool folder (``ingest --via-worker``):
    from here on, the same job path as uploads."""
    folder = settings.spool_path / uuid.uuid4().hex
    folder.mkdir(parents=True)
    received, taken = Received(folder), set[str]()
    cap = settings.ingest.max_file_mb * MB
    for n, (name, source) in enumerate(files):
        unique = name if name not in taken else safe_name(name, taken, n + 1)
        taken.add(unique)
        spooled = SpooledFile(unique, str(folder / f"{n:06d}"), source.stat().st_size)
        if spooled.size > cap:
            spooled.error = f"file is larger than the limit of {cap // MB} MB"
        else:
            shutil.copyfile(source, spooled.path)
        received.files.append(spooled)
    return received
