"""The parsed-document model and the builder every format parser fills."""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import ParseError

DOC_TYPES = ("txt", "md", "html", "pdf", "docx", "csv", "json")

# Block kinds whose consecutive blocks are separated by one newline instead of a blank line.
_LINE_KINDS = frozenset({"list", "table", "row"})
# Control characters (not whitespace ones), soft hyphens, zero-width spaces and stray BOMs.
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1b\x7f\u00ad\u200b\ufeff]")


@dataclass(frozen=True, slots=True)
class Block:
    """One structural unit of a document's text: ``text[start:end]``."""

    start: int
    end: int
    section: str
    kind: str


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """Clean plain text plus the blocks that cover it."""

    text: str
    blocks: tuple[Block, ...]
    title: str | None
    doc_type: str


def decode_utf8(data: bytes) -> str:
    """Decode strict UTF-8 (a BOM is dropped) with line endings normalised to ``\\n``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not valid UTF-8 text (bad byte at offset {exc.start})") from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")


def collapse_whitespace(text: str) -> str:
    """Runs of whitespace (newlines included) become one space; ends are trimmed."""
    return " ".join(text.split())


def clean_title(title: str | None) -> str | None:
    """A one-line title, or None when blank."""
    cleaned = collapse_whitespace(_INVISIBLE.sub("", title or ""))
    return cleaned or None


class Outline:
    """The heading path a parser is currently under, e.g. ``On-call > Escalation``."""

    def __init__(self) -> None:
        self._path: list[tuple[int, str]] = []

    def enter(self, level: int, heading: str) -> str:
        """Open a heading at ``level`` (smaller is higher) and return the new path."""
        while self._path and self._path[-1][0] >= level:
            self._path.pop()
        self._path.append((level, heading))
        return self.current

    @property
    def current(self) -> str:
        """The path of the innermost open heading ("" before any heading)."""
        return " > ".join(heading for _, heading in self._path)


class DocumentBuilder:
    """Appends cleaned blocks to one text and records their exact offsets."""

    def __init__(self, doc_type: str) -> None:
        self._doc_type = doc_type
        self._parts: list[str] = []
        self._blocks: list[Block] = []
        self._length = 0

    def add(self, text: str, kind: str, section: str = "") -> None:
        """Append one block; blank text is ignored. Code keeps its first line's indentation."""
        body = _INVISIBLE.sub("", text)
        body = body.strip("\n").rstrip() if kind == "code" else body.strip()
        if not body.strip():
            return
        if self._blocks:
            self._append("\n" if kind in _LINE_KINDS and self._blocks[-1].kind == kind else "\n\n")
        start = self._length
        self._append(body)
        self._blocks.append(Block(start, self._length, section, kind))

    def build(self, title: str | None) -> ParsedDocument:
        """The finished document; raises ParseError when no text was added."""
        if not self._blocks:
            raise ParseError("no text found")
        return ParsedDocument("".join(self._parts), tuple(self._blocks), clean_title(title), self._doc_type)

    def _append(self, piece: str) -> None:
        self._parts.append(piece)
        self._length += len(piece)
