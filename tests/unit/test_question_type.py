"""The expected-answer heuristic: which kind of answer a question wants, and which sentences offer it."""

from __future__ import annotations

import pytest

from core.question_type import expected, offers


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many days of PTO carry over?", "number"),
        ("What is the hotel limit in London?", "number"),
        ("When is the year-end code freeze?", "time"),
        ("In what year did the Broncos win?", "time"),
        ("Who do I page for a SEV1?", "entity"),
        ("Where is the bike storage?", "entity"),
        ("Why do we rotate secrets?", "any"),
    ],
)
def test_expected_kind(question: str, kind: str) -> None:
    assert expected(question) == kind


def test_offers_needs_something_beyond_the_question() -> None:
    assert offers("number", "London GBP 250 per night", "What is the limit?")
    assert not offers("number", "Hotels: nightly limits by city", "What is the limit?")
    assert offers("time", "The freeze runs from 15 December to 5 January.", "When is the freeze?")
    assert offers("entity", "Page the Incident Commander on call.", "Who do I page?")
    assert not offers("entity", "Page them for a SEV1.", "Who do I page for a SEV1?")
    assert not offers("any", "Anything at all 42.", "Why?")
