"""Search and ask results as files (CSV or PDF): shared by the REST API and the admin page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fastapi.responses import Response

from core.models import Answer, SearchHit
from hub.render import Report, to_csv

FileFormat = Literal["csv", "pdf"]
HIT_COLUMNS = ("rank", "document_id", "title", "url", "collection", "section", "score", "text")
CITATION_COLUMNS = ("n", "document_id", "title", "url", "quote", "start", "end", "score")
CSV_TYPE = "text/csv; charset=utf-8"


@dataclass(frozen=True, slots=True)
class ExportFile:
    body: str | bytes
    media_type: str
    filename: str

    def response(self) -> Response:
        headers = {"Content-Disposition": f'attachment; filename="{self.filename}"'}
        return Response(content=self.body, media_type=self.media_type, headers=headers)


def hit_rows(hits: list[SearchHit]) -> list[tuple[Any, ...]]:
    return [
        (i, h.document_id, h.title, h.url, h.collection, h.section, round(h.score, 4), h.text)
        for i, h in enumerate(hits, 1)
    ]


def search_file(workspace: str, query: str, hits: list[SearchHit], fmt: FileFormat) -> ExportFile:
    rows = hit_rows(hits)
    if fmt == "csv":
        return ExportFile(to_csv(HIT_COLUMNS, rows), CSV_TYPE, "search.csv")
    pdf = Report(f"Search: {query}")
    pdf.paragraph(f"Workspace {workspace} · {len(hits)} results")
    pdf.rows(
        ("#", "title", "score", "text"), [(r[0], r[2], r[6], r[7][:300]) for r in rows], (6, 40, 12, 110)
    )
    return ExportFile(pdf.render(), "application/pdf", "search.pdf")


def answer_file(answer: Answer, fmt: FileFormat) -> ExportFile:
    citations = [
        (c.n, c.document_id, c.title, c.url, c.quote, c.start, c.end, round(c.score, 4))
        for c in answer.citations
    ]
    if fmt == "csv":
        rows = [("answer", "", "", "", answer.answer, "", "", answer.confidence), *citations]
        return ExportFile(to_csv(CITATION_COLUMNS, rows), CSV_TYPE, "answer.csv")
    pdf = Report(f"Question: {answer.question}")
    pdf.paragraph(answer.answer, size=11)
    pdf.paragraph(
        f"confidence {answer.confidence:.2f} · {answer.mode} · abstained: {answer.abstained}", size=8
    )
    pdf.rows(("n", "title", "quote"), [(c[0], c[2], c[4]) for c in citations], (6, 40, 120))
    return ExportFile(pdf.render(), "application/pdf", "answer.pdf")
