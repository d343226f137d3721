"""Metrics as trec_eval/BEIR compute them, checked against hand-computed values."""

from __future__ import annotations

import math

import pytest

from core.evaluation import answer_hit, mrr_at, ndcg_at, percentile, recall_at
from core.retrieval import fuse


def test_ndcg_uses_the_grade_as_gain() -> None:
    judged = {"a": 2, "b": 1, "c": 0}
    ranked = ["b", "x", "a"]
    dcg = 1 / math.log2(2) + 2 / math.log2(4)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at(ranked, judged) == pytest.approx(dcg / idcg)
    assert ndcg_at(["a", "b"], judged) == pytest.approx(1.0)
    assert ndcg_at(["x"], {}) == 0.0


def test_ndcg_cuts_at_k() -> None:
    assert ndcg_at([*"xxxxxxxxxx", "a"], {"a": 1}) == 0.0


def test_recall_and_mrr() -> None:
    judged = {"a": 1, "b": 2, "z": 0}
    assert recall_at(["a", "q"], judged) == 0.5
    assert mrr_at(["q", "z", "b"], judged) == pytest.approx(1 / 3)
    assert mrr_at(["q"] * 10 + ["a"], judged) == 0.0


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile([], 95) == 0.0


@pytest.mark.parametrize(
    ("text", "abstained", "expected"),
    [
        ("The Denver Broncos won. [1]", False, True),
        ("the DENVER broncos", False, True),
        ("Carolina won.", False, False),
        ("Denver Broncos", True, False),
        ("Denver Broncos " + "x" * 500, False, False),
    ],
)
def test_answer_hit(text: str, abstained: bool, expected: bool) -> None:
    assert answer_hit(text, ["Denver Broncos", " "], abstained=abstained) is expected


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    fused = fuse([([(1, 9.0), (2, 8.0)], 1.0), ([(2, 0.9), (3, 0.8)], 1.0)], rrf_k=60)
    assert max(fused, key=lambda k: fused[k]) == 2
    assert fused[1] == pytest.approx(1 / 61)
    weighted = fuse([([(1, 9.0)], 2.0), ([(3, 0.9)], 1.0)], rrf_k=60)
    assert weighted[1] == pytest.approx(2 * weighted[3])


def test_convex_fusion_normalises_bm25_by_the_best_score() -> None:
    from core.retrieval import convex

    fused = convex([(1, 10.0), (2, 5.0)], [(2, 0.8), (3, 0.9)], 0.4, 0.6)
    assert fused[1] == pytest.approx(0.4)
    assert fused[2] == pytest.approx(0.4 * 0.5 + 0.6 * 0.8)
    assert fused[3] == pytest.approx(0.6 * 0.9)
    assert max(fused, key=lambda k: fused[k]) == 2
    assert convex([], [(7, 0.5)], 0.4, 0.6) == {7: pytest.approx(0.3)}
