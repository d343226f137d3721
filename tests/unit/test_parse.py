"""Parsers for every document type, and type detection from content and file name."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import docx
import pytest
from fpdf import FPDF
from pypdf import PdfWriter

from core.errors import ParseError
from core.ingest.parse import DOC_TYPES, ParsedDocument, detect_type, parse


def assert_well_formed(doc: ParsedDocument) -> None:
    """Blocks are ordered, disjoint, trimmed, and cover every non-whitespace character."""
    covered = 0
    for block in doc.blocks:
        assert covered <= block.start < block.end <= len(doc.text)
        assert doc.text[covered : block.start].strip() == ""
        assert not doc.text[block.end - 1].isspace()
        assert block.kind in {"heading", "paragraph", "list", "table", "row", "code"}
        covered = block.end
    assert doc.text[covered:].strip() == ""
    assert doc.doc_type in DOC_TYPES


def blocks(doc: ParsedDocument) -> list[tuple[str, str, str]]:
    return [(block.kind, block.section, doc.text[block.start : block.end]) for block in doc.blocks]


# --- plain text ---------------------------------------------------------------------------------


def test_txt_paragraphs_line_endings_and_blank_runs() -> None:
    doc = parse(b"\xef\xbb\xbfFirst line\r\nsame paragraph  \r\n\r\n\r\n\r\n  Second\n \n\nThird\n", "txt")
    assert_well_formed(doc)
    assert doc.text == "First line\nsame paragraph\n\nSecond\n\nThird"
    assert [kind for kind, _, _ in blocks(doc)] == ["paragraph"] * 3
    assert doc.title is None
    assert doc.doc_type == "txt"


def test_control_characters_are_removed() -> None:
    assert parse(b"tab\tkept\x00\x07 bell gone\xc2\xad", "txt").text == "tab\tkept bell gone"


@pytest.mark.parametrize("doc_type", ["txt", "md", "html", "csv", "json"])
def test_invalid_utf8_is_refused(doc_type: str) -> None:
    with pytest.raises(ParseError, match="not valid UTF-8"):
        parse(b"caf\xe9 au lait", doc_type)


@pytest.mark.parametrize(
    ("data", "doc_type"),
    [
        (b"", "txt"),
        (b"  \n\t\n ", "txt"),
        (b"---\ntitle: x\n---\n", "md"),
        (b"<html><head><title>T</title></head><body><script>x()</script></body></html>", "html"),
        (b"a,b,c\n", "csv"),
        (b"[]", "json"),
        (b'{"a": null, "b": ""}', "json"),
    ],
)
def test_empty_results_are_refused(data: bytes, doc_type: str) -> None:
    with pytest.raises(ParseError, match="no text found"):
        parse(data, doc_type)


def test_unknown_type_is_refused() -> None:
    with pytest.raises(ParseError, match="unsupported document type"):
        parse(b"hello", "rtf")


# --- markdown -----------------------------------------------------------------------------------

MARKDOWN = b"""---
title: "Ops Runbook"
owner: sre
---
On-call
=======

Read **this** first, *then* `kubectl get pods` and [the wiki](https://wiki.example.com) ![logo](l.png).

Escalation
----------

1. Page the primary.
2. Wait 5 minutes.
   - still down? page the secondary

### Contacts

| Name | Phone |
|------|-------|
| Bob  | 555-0100 |

```bash
  kubectl rollout restart deploy/api

  echo done
```

# Appendix
<!-- hidden note -->
> Quoted _advice_ here.
"""


def test_markdown_structure_and_sections() -> None:
    doc = parse(MARKDOWN, "md")
    assert_well_formed(doc)
    assert doc.title == "Ops Runbook"
    assert blocks(doc) == [
        ("heading", "On-call", "On-call"),
        ("paragraph", "On-call", "Read this first, then kubectl get pods and the wiki."),
        ("heading", "On-call > Escalation", "Escalation"),
        ("list", "On-call > Escalation", "1. Page the primary."),
        ("list", "On-call > Escalation", "2. Wait 5 minutes."),
        ("list", "On-call > Escalation", "- still down? page the secondary"),
        ("heading", "On-call > Escalation > Contacts", "Contacts"),
        ("table", "On-call > Escalation > Contacts", "Name | Phone"),
        ("table", "On-call > Escalation > Contacts", "Bob | 555-0100"),
        ("code", "On-call > Escalation > Contacts", "  kubectl rollout restart deploy/api\n\n  echo done"),
        ("heading", "Appendix", "Appendix"),
        ("paragraph", "Appendix", "Quoted advice here."),
    ]
    assert "owner" not in doc.text
    for markup in ("**", "`", "https://", "logo", "<!--"):
        assert markup not in doc.text


def test_markdown_list_items_and_table_rows_are_line_separated() -> None:
    doc = parse(b"- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n", "md")
    assert doc.text == "- one\n- two\n\na | b\n1 | 2"


def test_markdown_title_falls_back_to_first_h1() -> None:
    doc = parse(b"intro\n\n## Minor\n\n# Major heading\n\ntext\n\n# Second\n", "md")
    assert doc.title == "Major heading"
    assert blocks(doc)[-1] == ("heading", "Second", "Second")


def test_markdown_without_headings_has_no_title_or_section() -> None:
    doc = parse(b"just a note\nwrapped here\n", "md")
    assert doc.title is None
    assert blocks(doc) == [("paragraph", "", "just a note wrapped here")]


def test_markdown_hard_break_and_autolink() -> None:
    doc = parse(b"line one  \nline two <https://example.com>\n", "md")
    assert doc.text == "line one\nline two https://example.com"


# --- html ---------------------------------------------------------------------------------------

HTML = b"""<!DOCTYPE html>
<html><head><title> Payments   Service </title><style>p { color: red }</style>
<script>var secret = 1;</script></head>
<body>
<header>Site header</header><nav><a href="/">Home</a></nav>
<h1>Payments</h1>
<div class="intro">Handles   card
  payments.<div><span>Nested</span> div text</div>Tail text</div>
<p>Retries use <b>exponential</b>&nbsp;backoff.<br>Max 5.</p>
<h2>Limits</h2>
<ul><li>Per user: 10/min<ul><li>burst 20</li></ul></li><li><p>Per IP: 100/min</p></li></ul>
<table><thead><tr><th>Plan</th><th>Quota</th></tr></thead>
<tbody><tr><td>Free</td><td><p>1k</p><p>per day</p></td></tr><tr><td></td><td>10k</td></tr></tbody></table>
<pre>  curl -X POST /pay
    --data x</pre>
<dl><dt>SLA</dt><dd>99.9%</dd></dl>
<blockquote>Be careful.</blockquote>
<noscript>enable js</noscript><svg><text>chart</text></svg><template><p>tpl</p></template>
<form><label>Search</label><input></form>
<footer>Copyright</footer><!-- comment -->
</body></html>"""


def test_html_visible_text_blocks_and_sections() -> None:
    doc = parse(HTML, "html")
    assert_well_formed(doc)
    assert doc.title == "Payments Service"
    assert blocks(doc) == [
        ("heading", "Payments", "Payments"),
        ("paragraph", "Payments", "Handles card payments."),
        ("paragraph", "Payments", "Nested div text"),
        ("paragraph", "Payments", "Tail text"),
        ("paragraph", "Payments", "Retries use exponential backoff. Max 5."),
        ("heading", "Payments > Limits", "Limits"),
        ("list", "Payments > Limits", "Per user: 10/min"),
        ("list", "Payments > Limits", "burst 20"),
        ("list", "Payments > Limits", "Per IP: 100/min"),
        ("table", "Payments > Limits", "Plan | Quota"),
        ("table", "Payments > Limits", "Free | 1k per day"),
        ("table", "Payments > Limits", "10k"),
        ("code", "Payments > Limits", "  curl -X POST /pay\n    --data x"),
        ("paragraph", "Payments > Limits", "SLA"),
        ("paragraph", "Payments > Limits", "99.9%"),
        ("paragraph", "Payments > Limits", "Be careful."),
    ]
    for dropped in (
        "secret",
        "color",
        "Site header",
        "Home",
        "enable js",
        "chart",
        "tpl",
        "Search",
        "Copyright",
    ):
        assert dropped not in doc.text


def test_html_title_falls_back_to_first_h1_and_fragments_work() -> None:
    doc = parse(b"<div>before</div><h1>The <em>Real</em> Title</h1><p>after</p>", "html")
    assert doc.title == "The Real Title"
    assert blocks(doc)[0] == ("paragraph", "", "before")


def test_html_inline_markup_does_not_split_words() -> None:
    assert parse(b"<p><b>W</b>ord and <a href='#'>link</a>.</p>", "html").text == "Word and link."


# --- pdf ----------------------------------------------------------------------------------------

PAGE_LINES = [
    "When the primary database stops answering, the on-call engineer promotes",
    "the replica. The procedure is well known and takes about five min-",
    "utes in total.",
    "Afterwards, write a short incident note for the team channel.",
]


def make_pdf(path: Path, pages: int, *, title: str | None = "Failover Guide") -> bytes:
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 18)
        pdf.cell(text=f"Database Failover {number}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        for line in PAGE_LINES:
            pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path.read_bytes()


def test_pdf_pages_paragraphs_and_title(tmp_path: Path) -> None:
    doc = parse(make_pdf(tmp_path / "guide.pdf", 3), "pdf")
    assert_well_formed(doc)
    assert doc.title == "Failover Guide"
    assert blocks(doc)[:3] == [
        ("paragraph", "Page 1", "Database Failover 1"),
        (
            "paragraph",
            "Page 1",
            "When the primary database stops answering, the on-call engineer promotes the replica. "
            "The procedure is well known and takes about five minutes in total.",
        ),
        ("paragraph", "Page 1", "Afterwards, write a short incident note for the team channel."),
    ]
    assert [section for _, section, _ in blocks(doc)] == [f"Page {n}" for n in (1, 2, 3) for _ in range(3)]


def test_pdf_without_metadata_title_has_none(tmp_path: Path) -> None:
    assert parse(make_pdf(tmp_path / "plain.pdf", 1, title=None), "pdf").title is None


def test_pdf_over_page_limit_is_refused(tmp_path: Path) -> None:
    data = make_pdf(tmp_path / "long.pdf", 4)
    with pytest.raises(ParseError, match="PDF has 4 pages, more than the limit of 3"):
        parse(data, "pdf", max_pdf_pages=3)
    assert len(parse(data, "pdf", max_pdf_pages=4).blocks) == 12


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=io.BytesIO(make_pdf(tmp_path / "a.pdf", 1)))
    writer.encrypt(user_password="s3cret", owner_password="owner", algorithm="AES-128")
    locked = tmp_path / "locked.pdf"
    writer.write(locked)
    with pytest.raises(ParseError, match="PDF is encrypted"):
        parse(locked.read_bytes(), "pdf")


def test_pdf_with_empty_user_password_opens(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=io.BytesIO(make_pdf(tmp_path / "a.pdf", 1)))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert parse(buffer.getvalue(), "pdf").text.startswith("Database Failover 1")


def test_pdf_without_text_is_refused(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 50, 50)
    path = tmp_path / "drawing.pdf"
    pdf.output(str(path))
    with pytest.raises(ParseError, match="no text found"):
        parse(path.read_bytes(), "pdf")


@pytest.mark.parametrize("data", [b"%PDF-1.7\nnot really", b"hello", b""])
def test_damaged_pdf_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse(data, "pdf")


# --- docx ---------------------------------------------------------------------------------------


def make_docx(path: Path, *, core_title: str = "") -> bytes:
    document = docx.Document()
    document.core_properties.title = core_title
    document.add_heading("Team Handbook", 0)
    document.add_paragraph("Welcome   to the\tteam.")
    document.add_heading("On-call", 1)
    document.add_paragraph("Check the dashboard", style="List Bullet")
    document.add_paragraph("Acknowledge the page", style="List Number")
    document.add_heading("Contacts", 2)
    table = document.add_table(rows=3, cols=3)
    for column, value in enumerate(("Name", "Role", "Phone")):
        table.cell(0, column).text = value
    table.cell(1, 0).text = "Ana"
    table.cell(1, 1).merge(table.cell(1, 2)).text = "Lead, 555-0101"
    document.add_paragraph("")
    document.add_heading("Holidays", 1)
    document.add_paragraph("Ask two weeks ahead.")
    document.save(str(path))
    return path.read_bytes()


def test_docx_headings_lists_tables(tmp_path: Path) -> None:
    doc = parse(make_docx(tmp_path / "handbook.docx"), "docx")
    assert_well_formed(doc)
    assert doc.title == "Team Handbook"
    assert blocks(doc) == [
        ("heading", "Team Handbook", "Team Handbook"),
        ("paragraph", "Team Handbook", "Welcome to the team."),
        ("heading", "Team Handbook > On-call", "On-call"),
        ("list", "Team Handbook > On-call", "Check the dashboard"),
        ("list", "Team Handbook > On-call", "Acknowledge the page"),
        ("heading", "Team Handbook > On-call > Contacts", "Contacts"),
        ("table", "Team Handbook > On-call > Contacts", "Name | Role | Phone"),
        ("table", "Team Handbook > On-call > Contacts", "Ana | Lead, 555-0101"),
        ("heading", "Team Handbook > Holidays", "Holidays"),
        ("paragraph", "Team Handbook > Holidays", "Ask two weeks ahead."),
    ]


def test_docx_core_title_wins(tmp_path: Path) -> None:
    assert (
        parse(make_docx(tmp_path / "t.docx", core_title="HR Handbook 2025"), "docx").title
        == "HR Handbook 2025"
    )


def test_docx_title_falls_back_to_first_heading_1(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("preface")
    document.add_heading("Chapter One", 1)
    path = tmp_path / "c.docx"
    document.save(str(path))
    assert parse(path.read_bytes(), "docx").title == "Chapter One"


def test_damaged_docx_is_a_parse_error() -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("word/document.xml", "<not-xml")
    for data in (archive.getvalue(), b"PK\x03\x04broken", b"plain text"):
        with pytest.raises(ParseError, match="docx"):
            parse(data, "docx")


# --- csv ----------------------------------------------------------------------------------------


def test_csv_semicolons_quotes_and_empty_values() -> None:
    data = (
        b"name;team;note\r\n"
        b'Ana;SRE;"on call; weekdays, mornings"\r\n'
        b'Bob;;"multi\nline ""quoted"""\r\n'
        b";;\r\n"
        b"Cy;Dev;ok;extra\r\n"
    )
    doc = parse(data, "csv")
    assert_well_formed(doc)
    assert doc.text == (
        "name: Ana; team: SRE; note: on call; weekdays, mornings\n"
        'name: Bob; note: multi line "quoted"\n'
        "name: Cy; team: Dev; note: ok; column 4: extra"
    )
    assert {(block.kind, block.section) for block in doc.blocks} == {("row", "")}
    assert doc.title is None


def test_csv_falls_back_to_commas() -> None:
    assert parse(b"only\nvalue\n", "csv").text == "only: value"
    assert parse(b"a,b\n1,2\n3,4\n", "csv").text == "a: 1; b: 2\na: 3; b: 4"


def test_csv_tabs_are_sniffed() -> None:
    assert parse(b"host\tport\ndb1\t5432\n", "csv").text == "host: db1; port: 5432"


# --- json ---------------------------------------------------------------------------------------


def test_json_array_of_objects_is_one_row_each() -> None:
    data = b'[{"name": "api", "owner": {"team": "core", "oncall": ["ana", "bob"]}, "tags": [], "up": true},\n'
    data += b'{"name": "db", "replicas": [{"host": "a"}, {"host": "b"}], "note": null}, "loose", 3.5]'
    doc = parse(data, "json")
    assert_well_formed(doc)
    assert doc.text == (
        "name: api; owner.team: core; owner.oncall: ana, bob; up: true\n"
        "name: db; replicas[0].host: a; replicas[1].host: b\n"
        "loose\n"
        "3.5"
    )


def test_json_object_is_one_row_per_key() -> None:
    doc = parse(
        b'{"service": "api", "limits": {"rps": 10, "burst": 20}, "owners": [{"n": "a"}, {"n": "b"}]}', "json"
    )
    assert doc.text == "service: api\nlimits.rps: 10; limits.burst: 20\nowners[0].n: a\nowners[1].n: b"


def test_json_deep_nesting_is_rendered_compactly() -> None:
    doc = parse(b'{"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}', "json")
    assert doc.text == 'a.b.c.d.e.f.g: {"h":1}'


@pytest.mark.parametrize("data", [b"{not json}", b'{"a": 1,}', b"[" * 100_000])
def test_invalid_json_is_refused(data: bytes) -> None:
    with pytest.raises(ParseError, match="JSON"):
        parse(data, "json")


# --- type detection -----------------------------------------------------------------------------


def test_detect_pdf_by_content_whatever_the_name(tmp_path: Path) -> None:
    assert detect_type(make_pdf(tmp_path / "a.pdf", 1), "report.txt") == "pdf"


def test_detect_docx_by_content(tmp_path: Path) -> None:
    assert detect_type(make_docx(tmp_path / "h.docx"), "download.bin") == "docx"


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (b"<!DOCTYPE html><html><body>x</body></html>", "notes.md", "html"),
        (b"\n  <html lang='en'><p>x</p></html>", "page.txt", "html"),
        (b"<?xml version='1.0'?>\n<!-- c --><html><p>x</p></html>", "export", "html"),
        (b"<p>fragment</p>", "page.HTM", "html"),
        (b"# Title", "README.md", "md"),
        (b"# Title", "notes.markdown", "md"),
        (b"a,b\n1,2", "data.CSV", "csv"),
        (b'{"a": 1}', "config.json", "json"),
        (b"[1, 2]", "list.json", "json"),
        (b"{broken", "config.json", "txt"),
        (b'"just a string"', "scalar.json", "txt"),
        (b'{"a": 1}', "config.txt", "txt"),
        (b"\xef\xbb\xbfhello", "notes", "txt"),
        (b"hello", "https://example.com/page.md?x=1#top", "md"),
        (b"hello", "C:\\docs\\page.html", "html"),
        (b"plain", "archive.tar.gz", "txt"),
    ],
)
def test_detect_text_types(data: bytes, filename: str, expected: str) -> None:
    assert detect_type(data, filename) == expected


def test_detect_refuses_zip_that_is_not_docx() -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(ParseError, match="unsupported file type"):
        detect_type(archive.getvalue(), "sheet.docx")


@pytest.mark.parametrize(
    "data",
    [
        random.Random(7).randbytes(4096),
        random.Random(8).randbytes(64),
        b"\x89PNG\r\n\x1a\n" + bytes(32),
        b"PK\x03\x04 not a real zip",
        "UTF-16 text".encode("utf-16"),
    ],
)
def test_detect_refuses_binary(data: bytes) -> None:
    with pytest.raises(ParseError, match="unsupported file type"):
        detect_type(data, "file.txt")


def test_detect_refuses_text_that_is_not_utf8() -> None:
    with pytest.raises(ParseError, match="not valid UTF-8 text"):
        detect_type("Grüße aus Köln".encode("latin-1"), "notes.txt")
