"""Renderers for exports: CSV tables, server-side SVG bar charts, and PDF reports (fpdf2).

CSV cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) are prefixed with a
quote, so an exported question can never execute in the reader's spreadsheet (CSV injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from fpdf import FPDF

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # Debian fonts-dejavu-core
BOLD = FONT.with_name("DejaVuSans-Bold.ttf")


def cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


def to_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([cell(v) for v in row] for row in rows)
    return out.getvalue()


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], *, width: int = 640) -> str:
    """A horizontal bar chart as standalone SVG (no script, every text escaped)."""
    bar, gap, left, top = 18, 6, 180, 32
    height = top + max(len(values), 1) * (bar + gap) + 10
    peak = max(values, default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title, {chr(34): "&quot;"})}">',
        f'<text x="8" y="20" font-family="sans-serif" font-size="14" font-weight="bold">'
        f"{escape(title)}</text>",
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * (bar + gap)
        length = (width - left - 70) * (value / peak)
        parts.append(
            f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" font-family="sans-serif" '
            f'font-size="11">{escape(str(label)[:28])}</text>'
            f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar}" fill="#4a78b5"/>'
            f'<text x="{left + length + 4:.1f}" y="{y + 13}" font-family="sans-serif" '
            f'font-size="11">{value:g}</text>'
        )
    if not values:
        parts.append(f'<text x="8" y="{top + 12}" font-family="sans-serif" font-size="11">no data</text>')
    parts.append("</svg>")
    return "".join(parts)


class Report(FPDF):
    """A plain A4 report: a title, then paragraphs and small tables. Unicode via DejaVu when present."""

    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        self.set_title(title)
        self.set_creator("Switchboard")
        self.family = "Helvetica"
        if FONT.is_file() and BOLD.is_file():
            self.add_font("DejaVu", fname=str(FONT))
            self.add_font("DejaVu", style="B", fname=str(BOLD))
            self.family = "DejaVu"
        self.add_page()
        self.set_font(self.family, size=15)
        self.multi_cell(0, 8, self.safe(title), new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def safe(self, text: str) -> str:
        return text if self.family == "DejaVu" else text.encode("latin-1", "replace").decode("latin-1")

    def paragraph(self, text: str, *, size: int = 10) -> None:
        self.set_font(self.family, size=size)
        self.multi_cell(0, 5, self.safe(text), new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def rows(
        self, columns: Sequence[str], rows: Sequence[Sequence[Any]], widths: Sequence[int] | None = None
    ) -> None:
        self.set_font(self.family, size=9)
        with self.table(text_align="LEFT", col_widths=tuple(widths) if widths else None) as table:
            table.row([self.safe(c) for c in columns])
            for row in rows:
                table.row([self.safe("" if v is None else str(v))[:400] for v in row])
        self.ln(2)

    def render(self) -> bytes:
        return bytes(self.output())
