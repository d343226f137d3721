"""The citation checker repairs or drops what the model got wrong; memory and tier heuristics."""

from __future__ import annotations

from core.grounding import CitationChecker, Draft, parse
from core.memory import Turn, rewrite_heuristic
from core.models import SearchHit
from core.selection import SelectionRules


def hit(n: int, text: str, start: int) -> SearchHit:
    return SearchHit(
        chunk_id=n,
        document_id=f"doc{n}",
        title=f"Doc {n}",
        url=None,
        source="cli",
        collection="default",
        doc_type="md",
        section="",
        text=text,
        start=start,
        end=start + len(text),
        score=1.0 / n,
    )


HITS = [
    hit(1, "Hotels in London are capped at 250 GBP per night. Breakfast is included.", 100),
    hit(2, "Contractors book travel through their agency. Trains need a week's notice.", 40),
]


def check(answer: str, quotes: dict[int, str]) -> tuple[str, list[tuple[int, str, str, int]]]:
    checked = CitationChecker().check(Draft(answer, quotes, []), HITS)
    return checked.answer, [(c.n, c.document_id, c.quote, c.start) for c in checked.citations]


def test_valid_citation_maps_to_document_offsets() -> None:
    text, cites = check("The cap is 250 GBP [1].", {1: "capped at 250 GBP per night"})
    assert text == "The cap is 250 GBP [1]."
    assert cites == [(1, "doc1", "capped at 250 GBP per night", 100 + HITS[0].text.index("capped"))]


def test_wrong_number_is_repaired_to_the_source_holding_the_quote() -> None:
    text, cites = check(
        "Contractors use their agency [1].", {1: "Contractors book travel through their agency."}
    )
    assert text == "Contractors use their agency [1]."
    assert cites[0][1] == "doc2"


def test_number_beyond_the_sources_is_dropped_or_repaired() -> None:
    text, cites = check("Breakfast is free [7]. Trains need notice [9].", {9: "Trains need a week's notice."})
    assert text == "Breakfast is free. Trains need notice [1]."
    assert cites == [(1, "doc2", "Trains need a week's notice.", 40 + HITS[1].text.index("Trains"))]


def test_invented_quote_is_dropped() -> None:
    text, cites = check("Hotels cost 900 GBP [1].", {1: "Hotels cost 900 GBP."})
    assert text == "Hotels cost 900 GBP." and cites == []


def test_quote_differing_in_case_and_spacing_is_repaired_to_the_exact_text() -> None:
    _, cites = check("Breakfast too [1].", {1: "breakfast   IS included."})
    assert cites[0][2] == "Breakfast is included."


def test_renumbering_is_consecutive_and_shared_spans_share_a_number() -> None:
    quotes = {2: "Trains need a week's notice.", 3: "Breakfast is included.", 4: "Breakfast is included."}
    text, cites = check("Trains [2]. Breakfast [3][4].", quotes)
    assert text == "Trains [1]. Breakfast [2]."
    assert [c[0] for c in cites] == [1, 2]


def test_parse_splits_answer_quotes_and_related() -> None:
    draft = parse('Answer [1].\nQUOTES:\n[1] "exact words"\nRELATED:\n1. First?\n- Second?\nnot a question')
    assert draft.answer == "Answer [1]." and draft.quotes == {1: "exact words"}
    assert draft.related == ["First?", "Second?"]


def test_follow_ups_are_rewritten_from_history() -> None:
    history = [Turn("What is the hotel limit in London?", "What is the hotel limit in London?", "250 GBP")]
    assert (
        rewrite_heuristic("and for contractors?", history)
        == "What is the hotel limit in London for contractors?"
    )
    assert rewrite_heuristic("What about Paris?", history) == "What is the hotel limit in London Paris?"
    assert rewrite_heuristic("Is it the same in Paris?", history).startswith(
        "What is the hotel limit in London"
    )
    assert rewrite_heuristic("How do I request VPN access on day one?", history) == (
        "How do I request VPN access on day one?"
    )
    assert rewrite_heuristic("and for contractors?", []) == "and for contractors?"


def test_tiers() -> None:
    rules = SelectionRules(workspace_tiers={"vip": "strong"})
    assert rules.tier("demo", "Who do I page for a SEV1?") == "cheap"
    assert (
        rules.tier("demo", "Explain the steps to rotate keys and compare them with revocation?") == "strong"
    )
    assert rules.tier("vip", "Who do I page?") == "strong"
