"""Related questions grounded in the retrieved documents, without an LLM: from their headings and
key phrases. Every suggestion names a heading or phrase that occurs in a retrieved chunk."""

from __future__ import annotations

import itertools
import re
from collections import Counter

from bm25s.stopwords import STOPWORDS_EN

from core.analysis import Analyzer
from core.models import SearchHit

WORD = re.compile(r"[A-Za-z][A-Za-z0-9'-]+")
STOP = frozenset(STOPWORDS_EN) | {"must", "per", "may", "can", "also"}


def headings(hits: list[SearchHit]) -> list[str]:
    """Distinct section headings of the hits, last path segment, best hit first."""
    seen: dict[str, None] = {}
    for hit in hits:
        heading = hit.section.split(">")[-1].strip(" #")
        if heading and 2 <= len(heading) <= 80:
            seen.setdefault(heading, None)
    return list(seen)


def key_phrases(hits: list[SearchHit], limit: int = 6) -> list[str]:
    """Frequent two-word phrases of content words in the hits' text."""
    counts: Counter[str] = Counter()
    for hit in hits:
        words = [w.lower() for w in WORD.findall(hit.text)]
        for a, b in itertools.pairwise(words):
            if a not in STOP and b not in STOP and len(a) > 2 and len(b) > 2:
                counts[f"{a} {b}"] += 1
    return [p for p, n in counts.most_common(limit * 3) if n >= 1][:limit]


class RelatedQuestions:
    def __init__(self, analyzer: Analyzer, *, count: int = 3) -> None:
        self._analyzer = analyzer
        self._count = count

    def suggest(self, question: str, hits: list[SearchHit]) -> list[str]:
        asked = set(self._analyzer.terms(question))
        out: list[str] = []
        for heading in headings(hits):
            self._add(out, asked, heading, f"What does the documentation say about {heading}?")
        for phrase in key_phrases(hits):
            self._add(out, asked, phrase, f"What is the policy on {phrase}?")
        for hit in hits:
            self._add(out, asked, hit.title, f"What else does {hit.title} cover?")
        return out[: self._count]

    def _add(self, out: list[str], asked: set[str], topic: str, question: str) -> None:
        """Skip topics the question already covers, and duplicates."""
        terms = set(self._analyzer.terms(topic))
        if len(out) >= self._count or not terms or terms <= asked or question in out:
            return
        out.append(question)

    def grounded(self, candidates: list[str], hits: list[SearchHit]) -> list[str]:
        """Keep LLM suggestions whose content words mostly occur in the retrieved text."""
        vocabulary = {t for hit in hits for t in self._analyzer.terms(hit.text + " " + hit.section)}
        kept = []
        for candidate in candidates:
            terms = set(self._analyzer.terms(candidate))
            if terms and len(terms & vocabulary) / len(terms) >= 0.5:
                kept.append(candidate)
        return kept[: self._count]
