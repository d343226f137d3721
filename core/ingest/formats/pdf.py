"""PDF: text per page, re-flowed into paragraphs; section is ``Page N``."""

from __future__ import annotations

import io
import re

from pypdf import PasswordType, PdfReader

from core.errors import ParseError
from core.ingest.formats.document import DocumentBuilder, ParsedDocument, collapse_whitespace

_SENTENCE_END = re.compile(r"[.!?:][\"')\]”’]*$")
_BULLET = re.compile(r"^(?:[•▪◦‣●■\-–*]\s|\d{1,3}[.)]\s)")
_SHORT_LINE = 0.6  # a line shorter than this share of the page's widest line ends a paragraph


def parse_pdf(data: bytes, *, max_pages: int) -> ParsedDocument:
    """Parse a PDF; encrypted files and files over ``max_pages`` pages are refused."""
    reader = _open(data)
    count = _page_count(reader)
    if count > max_pages:
        raise ParseError(f"PDF has {count} pages, more than the limit of {max_pages}")
    builder = DocumentBuilder("pdf")
    for number in range(1, count + 1):
        for paragraph in pdf_paragraphs(_page_text(reader, number)):
            builder.add(paragraph, "paragraph", f"Page {number}")
    return builder.build(_title(reader))


def _open(data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        locked = reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED
    except Exception as exc:  # pypdf raises many types on malformed input
        raise ParseError(f"not a readable PDF: {exc}") from exc
    if locked:
        raise ParseError("PDF is encrypted and needs a password")
    return reader


def _page_count(reader: PdfReader) -> int:
    try:
        return len(reader.pages)
    except Exception as exc:
        raise ParseError(f"PDF page tree is unreadable: {exc}") from exc


def _page_text(reader: PdfReader, number: int) -> str:
    try:
        return reader.pages[number - 1].extract_text()
    except Exception as exc:
        raise ParseError(f"could not read the text of PDF page {number}: {exc}") from exc


def _title(reader: PdfReader) -> str | None:
    try:
        metadata = reader.metadata
        return str(metadata.title) if metadata is not None and metadata.title else None
    except Exception:  # a broken info dictionary only costs the title
        return None


def pdf_paragraphs(page_text: str) -> list[str]:
    """Split one page's extracted text into paragraphs and re-flow their lines."""
    lines = [line.strip() for line in page_text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    width = max((len(line) for line in lines), default=0)
    paragraphs: list[list[str]] = []
    previous = ""
    for line in lines:
        if line and (not previous or _breaks(previous, line, width)):
            paragraphs.append([])
        if line:
            paragraphs[-1].append(line)
        previous = line
    return [_reflow(paragraph) for paragraph in paragraphs]


def _breaks(previous: str, line: str, width: int) -> bool:
    """Whether ``line`` starts a new paragraph after ``previous`` (both non-blank)."""
    if _BULLET.match(line):
        return True
    if not (line[0].isupper() or line[0].isdigit()):
        return False
    return bool(_SENTENCE_END.search(previous)) or len(previous) < _SHORT_LINE * width


def _reflow(lines: list[str]) -> str:
    """Join lines with spaces, re-joining words hyphenated across a line break."""
    text = lines[0]
    for line in lines[1:]:
        if len(text) > 1 and text[-1] == "-" and text[-2].isalpha() and line[0].islower():
            text = text[:-1] + line
        else:
            text = f"{text} {line}"
    return collapse_whitespace(text)
