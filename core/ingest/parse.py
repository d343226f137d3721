"""Public entry point of document parsing: sniff the type, then parse bytes into blocks of text."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Mapping
from pathlib import PurePosixPath
from types import MappingProxyType

from core.errors import ParseError
from core.ingest.formats.document import DOC_TYPES, Block, ParsedDocument, decode_utf8
from core.ingest.formats.html import parse_html
from core.ingest.formats.markdown import parse_md
from core.ingest.formats.office import parse_docx
from core.ingest.formats.pdf import parse_pdf
from core.ingest.formats.tabular import parse_csv, parse_json
from core.ingest.formats.text import parse_txt

__all__ = ["DOC_TYPES", "Block", "ParsedDocument", "detect_type", "parse"]

_PARSERS: Mapping[str, Callable[[bytes], ParsedDocument]] = MappingProxyType(
    {
        "txt": parse_txt,
        "md": parse_md,
        "html": parse_html,
        "docx": parse_docx,
        "csv": parse_csv,
        "json": parse_json,
    }
)
_EXTENSIONS = MappingProxyType(
    {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".csv": "csv", ".tsv": "csv"}
)
# Optional XML prolog and comments, then <!doctype html> or <html>.
_HTML_START = re.compile(
    r"\A\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])", re.IGNORECASE | re.DOTALL
)
# PNG, JPEG, GIF, gzip, OLE2 (.doc/.xls), ELF; other binary data is caught by its NUL/control bytes.
_BINARY_MAGIC = (
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"\x1f\x8b",
    b"\xd0\xcf\x11\xe0",
    b"\x7fELF",
)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_CONTROL_BYTES = frozenset(range(32)) - {9, 10, 12, 13} | {127}
_SNIFF_BYTES = 8192


def parse(data: bytes, doc_type: str, *, max_pdf_pages: int = 2000) -> ParsedDocument:
    """Parse ``data`` as ``doc_type`` (one of DOC_TYPES); raises ParseError on unusable input."""
    if doc_type == "pdf":
        return parse_pdf(data, max_pages=max_pdf_pages)
    parser = _PARSERS.get(doc_type)
    if parser is None:
        raise ParseError(f"unsupported document type {doc_type!r}; expected one of {', '.join(DOC_TYPES)}")
    return parser(data)


def detect_type(data: bytes, filename: str) -> str:
    """The document type from the content first, then from the file extension."""
    if data[:1024].lstrip(b"\x00\t\n\r\x0c ")[:5] == b"%PDF-":
        return "pdf"
    if data.startswith(_ZIP_MAGIC):
        return _zip_type(data)
    if _looks_binary(data[:_SNIFF_BYTES]):
        raise ParseError("unsupported file type (binary data)")
    return _text_type(decode_utf8(data), filename)


def _zip_type(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ParseError("unsupported file type (damaged zip archive)") from exc
    if "word/document.xml" not in names:
        raise ParseError("unsupported file type (a zip archive that is not a .docx document)")
    return "docx"


def _looks_binary(head: bytes) -> bool:
    """Known binary signatures, NUL bytes, or many control bytes in data that is not UTF-8."""
    if head.startswith(_BINARY_MAGIC) or b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a multi-byte character cut at the sniff limit
            return sum(byte in _CONTROL_BYTES for byte in head) > len(head) // 20
    return False


def _text_type(text: str, filename: str) -> str:
    if _HTML_START.match(text[:4096]):
        return "html"
    suffix = _suffix(filename)
    if suffix == ".json":
        return "json" if _is_json_container(text) else "txt"
    return _EXTENSIONS.get(suffix, "txt")


def _suffix(filename: str) -> str:
    name = filename.split("?", 1)[0].split("#", 1)[0] if "://" in filename else filename
    return PurePosixPath(name.replace("\\", "/")).suffix.lower()


def _is_json_container(text: str) -> bool:
    if text.lstrip()[:1] not in ("{", "["):
        return False
    try:
        return isinstance(json.loads(text), dict | list)
    except (ValueError, RecursionError):
        return False
