"""Names, questions and filters are validated at the edge."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.analysis import Analyzer
from core.errors import InvalidInput
from core.models import Question, SearchFilters, check_slug


@pytest.mark.parametrize("name", ["a", "demo", "team-42", "x" * 63])
def test_good_slugs(name: str) -> None:
    assert check_slug(name) == name


@pytest.mark.parametrize("name", ["", "Demo", "a b", "a_b", "x" * 64, "../etc", "é"])
def test_bad_slugs_say_how_to_fix(name: str) -> None:
    with pytest.raises(InvalidInput, match="lowercase letters, digits"):
        check_slug(name)


def test_questions_are_trimmed_and_never_blank() -> None:
    assert Question(text="  hi  ").text == "hi"
    with pytest.raises(ValidationError):
        Question(text="   ")
    with pytest.raises(ValidationError):
        Question(text="x" * 2001)


def test_filters_reject_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        SearchFilters.model_validate({"collection": ["a"]})


def test_analyzer_stems_and_drops_stop_words() -> None:
    analyzer = Analyzer()
    assert analyzer.terms("The Policies are RUNNING") == ["polici", "run"]
    assert analyzer.term_counts("hotel hotels Hotel")["hotel"] == 3
