"""Regenerate the PDF and DOCX documents of the bundled demo corpus.

The Markdown and HTML documents under ``corpus/`` are written by hand. The binary documents are
rendered from simple Markdown sources under ``sources/<collection>/<name>.md`` (``#`` headings,
paragraphs, ``- `` and ``1. `` lists, ``| a | b |`` tables) so that they stay reviewable in git.

Run ``python -m hub.demo.build_corpus``. Output is deterministic: creation dates, ZIP timestamps and
PDF file identifiers are fixed, so re-running produces identical bytes.
"""

from __future__ import annotations

import io
import re
import sys
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from docx import Document
from docx.shared import Pt
from fpdf import FPDF
from fpdf.enums import XPos, YPos

DEMO_DIR = Path(__file__).resolve().parent
SOURCES_DIR = DEMO_DIR / "sources"
CORPUS_DIR = DEMO_DIR / "corpus"

COMPANY = "Northwind Robotics, Inc."
GENERATOR = "hub.demo.build_corpus"
FIXED_DATE = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)
ZIP_DATE = (2025, 3, 1, 9, 0, 0)

OutputFormat = Literal["pdf", "docx"]

# Source (relative to sources/, without .md) -> format of the generated corpus document.
OUTPUTS: dict[str, OutputFormat] = {
    "oncall/oncall-compensation": "pdf",
    "oncall/postmortem-process": "docx",
    "incidents/2024-06-18-orders-db-failover": "pdf",
    "incidents/2024-09-03-firmware-cdn-certificate": "docx",
    "hr/benefits": "pdf",
    "hr/expenses-and-reimbursement": "pdf",
    "hr/parental-leave": "docx",
    "hr/performance-reviews": "docx",
    "hr/pto-and-leave": "docx",
    "travel/international-travel-and-visas": "docx",
    "travel/travel-policy": "pdf",
    "engineering/branching-and-release": "docx",
    "engineering/security-guidelines": "pdf",
}

# Core PDF fonts only cover latin-1: map the typographic characters authors tend to type.
_REPLACEMENTS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u2022": "-",
    "\u2192": "->",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\u20ac": "EUR ",
    "\u2264": "<=",
    "\u2265": ">=",
}
_ORDERED_ITEM = re.compile(r"^(\d+)\.\s+(.*)$")
_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class ItemList:
    items: tuple[str, ...]
    ordered: bool


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = Heading | Paragraph | ItemList | Table


@dataclass(frozen=True)
class SourceDocument:
    collection: str
    name: str
    title: str
    blocks: tuple[Block, ...]


def clean_text(text: str) -> str:
    """Normalise typography and strip inline Markdown markers; the result is latin-1 safe."""
    for old, new in _REPLACEMENTS.items():
        text = text.replace(old, new)
    text = text.replace("**", "").replace("`", "")
    text = re.sub(r"\s+", " ", text).strip()
    try:
        text.encode("latin-1")
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end]
        raise ValueError(f"character {bad!r} is not latin-1; replace it in the source: {text!r}") from exc
    return text


def _split_row(line: str) -> tuple[str, ...]:
    cells = line.strip().strip("|").split("|")
    return tuple(clean_text(cell) for cell in cells)


def _parse_table(lines: list[str]) -> Table:
    rows = [_split_row(line) for line in lines if not _TABLE_SEPARATOR.match(line.strip())]
    width = len(rows[0])
    body = tuple(row + ("",) * (width - len(row)) if len(row) < width else row[:width] for row in rows[1:])
    return Table(header=rows[0], rows=body)


class _Parser:
    """Line-oriented parser for the small Markdown subset used by the sources."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self._paragraph: list[str] = []
        self._items: list[str] = []
        self._ordered = False
        self._table: list[str] = []

    def flush(self) -> None:
        if self._paragraph:
            self.blocks.append(Paragraph(clean_text(" ".join(self._paragraph))))
            self._paragraph = []
        if self._items:
            items = tuple(clean_text(item) for item in self._items)
            self.blocks.append(ItemList(items=items, ordered=self._ordered))
            self._items = []
        if self._table:
            self.blocks.append(_parse_table(self._table))
            self._table = []

    def _start_item(self, text: str, *, ordered: bool) -> None:
        if self._paragraph or self._table or (self._items and self._ordered != ordered):
            self.flush()
        self._ordered = ordered
        self._items.append(text)

    def feed(self, line: str) -> None:
        stripped = line.strip()
        ordered_match = _ORDERED_ITEM.match(stripped)
        if not stripped:
            self.flush()
        elif stripped.startswith("#"):
            self.flush()
            marks, _, text = stripped.partition(" ")
            self.blocks.append(Heading(level=min(len(marks), 3), text=clean_text(text)))
        elif stripped.startswith("|"):
            if not self._table:
                self.flush()
            self._table.append(stripped)
        elif stripped.startswith("- "):
            self._start_item(stripped[2:], ordered=False)
        elif ordered_match and not line.startswith(" "):
            self._start_item(ordered_match.group(2), ordered=True)
        elif self._items and line.startswith(" "):
            self._items[-1] += " " + stripped
        else:
            if self._items or self._table:
                self.flush()
            self._paragraph.append(stripped)


def parse_source(path: Path) -> SourceDocument:
    parser = _Parser()
    for line in path.read_text(encoding="utf-8").splitlines():
        parser.feed(line)
    parser.flush()
    blocks = tuple(parser.blocks)
    titles = [block.text for block in blocks if isinstance(block, Heading) and block.level == 1]
    if not titles:
        raise ValueError(f"{path}: the source needs a '# Title' heading")
    return SourceDocument(collection=path.parent.name, name=path.stem, title=titles[0], blocks=blocks)


# --- PDF ---------------------------------------------------------------------------------------

_PDF_HEADING_SIZES = {1: 17.0, 2: 13.0, 3: 11.5}
_PDF_BODY_SIZE = 10.0
_PDF_LINE = 5.0


def _column_widths(table: Table) -> tuple[float, ...]:
    lengths = [len(cell) for cell in table.header]
    for row in table.rows:
        lengths = [max(current, len(cell)) for current, cell in zip(lengths, row, strict=True)]
    return tuple(float(min(max(length, 8), 60)) for length in lengths)


def _pdf_heading(pdf: Any, block: Heading) -> None:
    size = _PDF_HEADING_SIZES[block.level]
    pdf.ln(3 if block.level > 1 else 0)
    pdf.set_font("Helvetica", "B", size)
    pdf.multi_cell(0, size * 0.5, block.text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1.5)
    pdf.set_font("Helvetica", "", _PDF_BODY_SIZE)


def _pdf_paragraph(pdf: Any, block: Paragraph) -> None:
    pdf.multi_cell(0, _PDF_LINE, block.text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)


def _pdf_list(pdf: Any, block: ItemList) -> None:
    for number, item in enumerate(block.items, start=1):
        marker = f"{number}." if block.ordered else "-"
        pdf.set_x(pdf.l_margin + 3)
        pdf.cell(6, _PDF_LINE, marker)
        pdf.multi_cell(0, _PDF_LINE, item, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(0.8)
    pdf.ln(1.5)


def _pdf_table(pdf: Any, block: Table) -> None:
    pdf.set_font("Helvetica", "", 8.5)
    with pdf.table(
        col_widths=_column_widths(block),
        text_align="LEFT",
        line_height=4.2,
        padding=1.2,
        first_row_as_headings=True,
    ) as table:
        for cells in (block.header, *block.rows):
            row = table.row()
            for cell in cells:
                row.cell(cell)
    pdf.set_font("Helvetica", "", _PDF_BODY_SIZE)
    pdf.ln(3)


def render_pdf(document: SourceDocument) -> bytes:
    pdf: Any = FPDF(format="A4")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(document.title)
    pdf.set_author(COMPANY)
    pdf.set_subject(f"Northwind Robotics internal documentation: {document.collection}")
    pdf.set_keywords(["Northwind Robotics", document.collection, document.name])
    pdf.set_creator(GENERATOR)
    pdf.set_producer(GENERATOR)
    pdf.set_lang("en")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    pdf.set_font("Helvetica", "", 8)
    pdf.set_text_color(110, 110, 110)
    pdf.cell(0, 4, f"{COMPANY} - Internal - {document.collection}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.ln(3)
    pdf.set_font("Helvetica", "", _PDF_BODY_SIZE)
    for block in document.blocks:
        if isinstance(block, Heading):
            _pdf_heading(pdf, block)
        elif isinstance(block, Paragraph):
            _pdf_paragraph(pdf, block)
        elif isinstance(block, ItemList):
            _pdf_list(pdf, block)
        else:
            _pdf_table(pdf, block)
    return bytes(pdf.output())


# --- DOCX --------------------------------------------------------------------------------------


def _new_numbering(doc: Any) -> int:
    """Create a fresh numbering instance for "List Number" so each ordered list restarts at 1."""
    numbering = doc.part.numbering_part.numbering_definitions._numbering
    style_num_id = doc.styles["List Number"].element.pPr.numPr.numId.val
    abstract_id = numbering.num_having_numId(style_num_id).abstractNumId.val
    num = numbering.add_num(abstract_id)
    num.add_lvlOverride(ilvl=0).add_startOverride(1)
    return int(num.numId)


def _docx_list(doc: Any, block: ItemList) -> None:
    num_id = _new_numbering(doc) if block.ordered else None
    for item in block.items:
        paragraph = doc.add_paragraph(item, style="List Number" if block.ordered else "List Bullet")
        if num_id is not None:
            num_pr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
            num_pr.get_or_add_ilvl().val = 0
            num_pr.get_or_add_numId().val = num_id


def _docx_table(doc: Any, block: Table) -> None:
    table = doc.add_table(rows=1 + len(block.rows), cols=len(block.header))
    table.style = doc.styles["Table Grid"]
    for row_index, cells in enumerate((block.header, *block.rows)):
        for col_index, text in enumerate(cells):
            run = table.cell(row_index, col_index).paragraphs[0].add_run(text)
            run.font.size = Pt(9)
            run.bold = row_index == 0
    doc.add_paragraph()


def _docx_metadata(doc: Any, document: SourceDocument) -> None:
    props = doc.core_properties
    props.title = document.title
    props.author = COMPANY
    props.last_modified_by = GENERATOR
    props.subject = f"Northwind Robotics internal documentation: {document.collection}"
    props.category = document.collection
    props.keywords = f"Northwind Robotics, {document.collection}"
    props.comments = f"Generated by {GENERATOR} from sources/{document.collection}/{document.name}.md"
    props.language = "en-US"
    props.revision = 1
    props.created = FIXED_DATE.replace(tzinfo=None)
    props.modified = FIXED_DATE.replace(tzinfo=None)
    props.last_printed = FIXED_DATE.replace(tzinfo=None)


def _fixed_zip(data: bytes) -> bytes:
    """Rewrite a ZIP container with fixed timestamps and attributes (python-docx stamps the clock)."""
    output = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, source.read(info.filename))
    return output.getvalue()


def render_docx(document: SourceDocument) -> bytes:
    doc: Any = Document()
    _docx_metadata(doc, document)
    doc.styles["Normal"].font.size = Pt(10.5)
    for block in document.blocks:
        if isinstance(block, Heading):
            doc.add_paragraph(block.text, style=f"Heading {block.level}")
        elif isinstance(block, Paragraph):
            doc.add_paragraph(block.text)
        elif isinstance(block, ItemList):
            _docx_list(doc, block)
        else:
            _docx_table(doc, block)
    buffer = io.BytesIO()
    doc.save(buffer)
    return _fixed_zip(buffer.getvalue())


# --- Driver ------------------------------------------------------------------------------------


def check_sources_listed() -> None:
    """Fail loudly when a source exists without an output format (or the other way round)."""
    found = {path.relative_to(SOURCES_DIR).with_suffix("").as_posix() for path in SOURCES_DIR.rglob("*.md")}
    unlisted = sorted(found - OUTPUTS.keys())
    missing = sorted(OUTPUTS.keys() - found)
    if unlisted or missing:
        raise ValueError(
            f"sources without an entry in OUTPUTS: {unlisted}; entries without a source: {missing}"
        )


def build_one(key: str, output_format: OutputFormat) -> Path:
    document = parse_source(SOURCES_DIR / f"{key}.md")
    data = render_pdf(document) if output_format == "pdf" else render_docx(document)
    target = CORPUS_DIR / f"{key}.{output_format}"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_bytes() != data:
        target.write_bytes(data)
    return target


def main() -> int:
    check_sources_listed()
    for key, output_format in sorted(OUTPUTS.items()):
        target = build_one(key, output_format)
        print(f"{target.relative_to(DEMO_DIR)}  {target.stat().st_size:>7} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
