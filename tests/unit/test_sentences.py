"""Sentence splitting: abbreviations, decimals, initials, list lines and exact offsets."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.ingest.sentences import split_sentences


def sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Call Dr. Smith first. Then page Mr. Jones.", ["Call Dr. Smith first.", "Then page Mr. Jones."]),
        ("Use a tool, e.g. Slack, i.e. chat. Done.", ["Use a tool, e.g. Slack, i.e. chat.", "Done."]),
        ("The U.S. Army uses it. We do too.", ["The U.S. Army uses it.", "We do too."]),
        (
            "Start at 9 a.m. tomorrow. Stop at 5 p.m. Bring snacks.",
            ["Start at 9 a.m. tomorrow.", "Stop at 5 p.m.", "Bring snacks."],
        ),
        ("Disk usage is 3.5 GB. It grew 0.25% today.", ["Disk usage is 3.5 GB.", "It grew 0.25% today."]),
        (
            "See No. 5 and fig. 2 here. Python vs. Go is moot.",
            ["See No. 5 and fig. 2 here.", "Python vs. Go is moot."],
        ),
        ("Apples, pears, etc. are fruit. Fine.", ["Apples, pears, etc. are fruit.", "Fine."]),
        ("J. R. R. Tolkien wrote it. Read it.", ["J. R. R. Tolkien wrote it.", "Read it."]),
        ("Wait... what? Nothing... Really!", ["Wait... what?", "Nothing...", "Really!"]),
        ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
        ("(See the runbook.) Then retry.", ["(See the runbook.)", "Then retry."]),
        ("Is it up? Yes! Good.", ["Is it up?", "Yes!", "Good."]),
        ("Version 2.0.1 shipped. Upgrade now.", ["Version 2.0.1 shipped.", "Upgrade now."]),
    ],
)
def test_sentence_boundaries(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_newlines_break_list_like_lines() -> None:
    text = "Steps:\n1. Install it.\n2. Run it.\n- check logs\n- restart"
    assert sentences(text) == ["Steps:", "1. Install it.", "2. Run it.", "- check logs", "- restart"]


def test_rows_and_table_lines_are_separate_sentences() -> None:
    assert sentences("name: alice; team: ops\nname: bob; team: dev") == [
        "name: alice; team: ops",
        "name: bob; team: dev",
    ]
    assert sentences("a | b\nc | d") == ["a | b", "c | d"]


def test_wrapped_prose_line_is_not_a_break() -> None:
    assert sentences("The replica is promoted when\nthe primary fails. Then alert.") == [
        "The replica is promoted when\nthe primary fails.",
        "Then alert.",
    ]


def test_blank_line_always_breaks() -> None:
    assert sentences("First paragraph\n\nsecond paragraph") == ["First paragraph", "second paragraph"]


def test_range_limits_and_offsets_are_exact() -> None:
    text = "  Hello there. General Kenobi!  You are bold.  "
    spans = split_sentences(text, 2, 32)
    assert [text[s:e] for s, e in spans] == ["Hello there.", "General Kenobi!"]
    assert all(2 <= s < e <= 32 for s, e in spans)


def test_empty_and_whitespace_give_no_sentences() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\t ") == []
    assert split_sentences("abc", 2, 1) == []


def test_out_of_range_bounds_are_clamped() -> None:
    assert split_sentences("One. Two.", -5, 100) == [(0, 4), (5, 9)]


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab AB.?!\n\"')(3,;:-e.g")), max_size=200),
    st.integers(0, 220),
    st.integers(0, 220),
)
def test_spans_are_trimmed_ordered_and_cover_all_text(text: str, start: int, end: int) -> None:
    spans = split_sentences(text, start, end)
    low, high = min(start, len(text)), min(end, len(text))
    previous_end = low
    for s, e in spans:
        assert previous_end <= s < e <= high
        assert not text[s].isspace()
        assert not text[e - 1].isspace()
        assert text[previous_end:s].strip() == ""
        previous_end = e
    assert text[previous_end:high].strip() == "" if spans else text[low:high].strip() == ""


def test_fast_enough_for_every_answer() -> None:
    paragraph = (
        "Dr. Smith moved the U.S. cluster at 9 a.m. on Monday. The failover took 3.5 minutes, "
        "i.e. well under the target! Was anyone paged? No. Restart the worker, e.g. with make restart.\n"
        "- check the queue\n- check the logs\n"
    )
    text = (paragraph * 30)[:5000]
    split_sentences(text)
    began = time.perf_counter()
    for _ in range(20):
        split_sentences(text)
    assert (time.perf_counter() - began) / 20 < 0.005  # about 0.3 ms here; generous for slow CI
