"""Word (.docx): heading styles build the section path, one block per table row."""

from __future__ import annotations

import io
import re

import docx
from docx.document import Document
from docx.table import Table
from docx.text.paragraph import Paragraph

from core.errors import ParseError
from core.ingest.formats.document import DocumentBuilder, Outline, ParsedDocument, collapse_whitespace

_HEADING_STYLE = re.compile(r"^heading\s*(?P<level>[1-9])$", re.IGNORECASE)


def parse_docx(data: bytes) -> ParsedDocument:
    """Parse a .docx body in order: paragraphs and tables."""
    document = _open(data)
    walker = _DocxWalker()
    try:
        for item in document.iter_inner_content():
            walker.visit(item)
        core_title = document.core_properties.title
    except Exception as exc:  # python-docx/lxml raise many types on damaged parts
        raise ParseError(f"could not read the .docx document body: {exc}") from exc
    return walker.builder.build(core_title or walker.title)


def _open(data: bytes) -> Document:
    try:
        return docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise ParseError(f"not a readable .docx document: {exc}") from exc


def heading_level(paragraph: Paragraph) -> int | None:
    """0 for the Title style, 1-9 for Heading 1-9, None for any other paragraph."""
    style = paragraph.style
    name = (style.name or "") if style is not None else ""
    if name.lower() == "title":
        return 0
    match = _HEADING_STYLE.match(name)
    return int(match.group("level")) if match else None


def is_list_item(paragraph: Paragraph) -> bool:
    """List styles, or any paragraph with Word numbering attached."""
    style = paragraph.style
    if style is not None and (style.name or "").lower().startswith("list"):
        return True
    properties = paragraph._p.pPr
    return properties is not None and properties.numPr is not None


class _DocxWalker:
    """Collects blocks and the best title candidate while walking the body."""

    def __init__(self) -> None:
        self.builder = DocumentBuilder("docx")
        self._outline = Outline()
        self._style_title: str | None = None
        self._first_h1: str | None = None

    @property
    def title(self) -> str | None:
        """The Title-style text, else the first Heading 1."""
        return self._style_title or self._first_h1

    def visit(self, item: Paragraph | Table) -> None:
        """Add one body item."""
        if isinstance(item, Table):
            self._table(item)
            return
        text = collapse_whitespace(item.text)
        level = heading_level(item)
        if level is not None and text:
            self._heading(text, level)
        else:
            self.builder.add(text, "list" if is_list_item(item) else "paragraph", self._outline.current)

    def _heading(self, text: str, level: int) -> None:
        if level == 0 and self._style_title is None:
            self._style_title = text
        if level == 1 and self._first_h1 is None:
            self._first_h1 = text
        self.builder.add(text, "heading", self._outline.enter(level, text))

    def _table(self, table: Table) -> None:
        for row in table.rows:
            cells: list[str] = []
            seen: set[int] = set()
            for cell in row.cells:  # a merged cell repeats: keep its first occurrence
                if id(cell._tc) not in seen:
                    seen.add(id(cell._tc))
                    cells.append(collapse_whitespace(cell.text))
            self.builder.add(" | ".join(cell for cell in cells if cell), "table", self._outline.current)
