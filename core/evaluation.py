"""Retrieval and answer metrics, as trec_eval and BEIR compute them (gain = the relevance grade)."""

from __future__ import annotations

import math
from collections.abc import Sequence

Qrels = dict[str, dict[str, int]]  # query id -> document id -> grade


def ndcg_at(ranked: Sequence[str], judged: dict[str, int], k: int = 10) -> float:
    dcg = sum(judged.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]))
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 2) for rank, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], judged: dict[str, int], k: int = 100) -> float:
    relevant = {doc for doc, g in judged.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def mrr_at(ranked: Sequence[str], judged: dict[str, int], k: int = 10) -> float:
    for rank, doc in enumerate(ranked[:k]):
        if judged.get(doc, 0) > 0:
            return 1.0 / (rank + 1)
    return 0.0


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = max(0, math.ceil(pct / 100.0 * len(ordered)) - 1)
    return ordered[index]


def answer_hit(answer_text: str, gold: Sequence[str], *, abstained: bool, max_chars: int = 500) -> bool:
    """The answer as shown contains a gold answer (case-insensitive); abstentions and long answers miss."""
    if abstained or len(answer_text) > max_chars:
        return False
    lowered = answer_text.lower()
    return any(g.strip() and g.strip().lower() in lowered for g in gold)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
