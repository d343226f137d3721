"""Extractive answers: the best supporting sentences of the retrieved chunks, each with an exact citation.

Needs no LLM. Sentences are scored by weighted keyword overlap, the rank of the chunk they come from and
whether they offer the kind of answer asked for; the best few are then embedded and scored by dense
similarity to the question. The answer is the best one to three sentences, capped in length.

Embedding is nearly all the cost of an answer, so the question's vector comes from retrieval when it has
one, and sentence vectors are remembered (``VectorMemo``) and, with Redis, shared between processes
(``core.cache.SharedVectors``): popular documents' sentences are embedded once per deployment.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from core import question_type
from core.analysis import Analyzer
from core.cache import SharedVectors
from core.embeddings import Embedder, VectorMemo, Vectors
from core.ingest.sentences import split_sentences
from core.models import Citation, SearchHit


@dataclass(frozen=True, slots=True)
class ExtractiveConfig:
    """Weights measured on squad-dev (bench/README.md): lexical overlap and the expected-answer type
    pick a shortlist cheaply; only the shortlist is embedded and scored by dense similarity."""

    hits: int = 8  # chunks whose sentences compete
    shortlist: int = 12  # sentences embedded per question (the cost of an answer)
    max_sentences: int = 3
    max_chars: int = 420  # answer text including citation markers
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    rank_weight: float = 0.3
    type_weight: float = 0.2  # a sentence offers the kind of answer asked for (a number, a date, a name)
    companion_ratio: float = 0.6  # further sentences must score at least this share of the best
    abstain_below: float = 0.30  # confidence under which we say we could not find it
    remembered_sentences: int = 20_000  # sentence vectors kept per process (1.5 KB each with MiniLM)


@dataclass(frozen=True, slots=True)
class Candidate:
    hit_rank: int
    hit: SearchHit
    start: int  # offsets into the document text
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Extract:
    text: str
    citations: list[Citation]
    confidence: float
    abstained: bool


MIN_WORDS = 3


def candidates(hits: list[SearchHit], limit: int) -> list[Candidate]:
    """Distinct sentences of the top hits that can stand as an answer (headings and fragments cannot)."""
    out: list[Candidate] = []
    seen: set[tuple[str, int]] = set()
    for rank, hit in enumerate(hits[:limit]):
        for s, e in split_sentences(hit.text):
            text = hit.text[s:e]
            key = (hit.document_id, hit.start + s)
            if len(text.split()) >= MIN_WORDS and text not in hit.section and key not in seen:
                seen.add(key)
                out.append(Candidate(rank, hit, hit.start + s, hit.start + e, text))
    return out


def lexical_scores(analyzer: Analyzer, question: str, texts: list[str]) -> list[float]:
    """Share of the question's terms each text contains, rarer terms (across the candidates) weighing more."""
    query = set(analyzer.terms(question))
    if not query:
        return [0.0] * len(texts)
    term_sets = [set(analyzer.terms(t)) & query for t in texts]
    df = Counter(t for terms in term_sets for t in terms)
    weight = {t: math.log(1.0 + len(texts) / (1.0 + df[t])) for t in query}
    total = sum(weight.values()) or 1.0
    return [sum(weight[t] for t in terms) / total for terms in term_sets]


class ExtractiveAnswerer:
    def __init__(
        self,
        embedder: Embedder,
        analyzer: Analyzer,
        config: ExtractiveConfig | None = None,
        *,
        shared: SharedVectors | None = None,
    ) -> None:
        self._embedder = embedder
        self._analyzer = analyzer
        self.config = config or ExtractiveConfig()
        self.memo = VectorMemo(self.config.remembered_sentences)
        self._shared = shared

    async def extract(
        self,
        question: str,
        hits: list[SearchHit],
        question_vector: Vectors | None = None,
        *,
        scope: str | None = None,
    ) -> Extract:
        """The answer from the hits; ``question_vector`` is the question's embedding if already known.
        ``scope`` (the workspace uid) lets sentence vectors be shared with other processes."""
        pool = self._shortlist(question, candidates(hits, self.config.hits))
        if not pool:
            return Extract("", [], 0.0, True)
        texts = [cand.text for cand, _, _ in pool]
        if question_vector is None:
            question_vector = (await self._embed([question]))[0]
        dense = await self._sentence_vectors(texts, scope) @ question_vector
        scores = [
            pre + self.config.dense_weight * float(d) for (_, pre, _), d in zip(pool, dense, strict=True)
        ]
        chosen = self._choose([cand for cand, _, _ in pool], scores)
        confidence = self._confidence(float(np.max(dense)), max(lexical for _, _, lexical in pool))
        if confidence < self.config.abstain_below:
            return Extract("", [], confidence, True)
        text, citations = self._render(chosen)
        return Extract(text, citations, confidence, False)

    async def _embed(self, texts: list[str]) -> Vectors:
        return await asyncio.to_thread(self._embedder.embed, texts)

    async def _sentence_vectors(self, texts: list[str], scope: str | None) -> Vectors:
        """One row per text: remembered here, else shared by another process, else embedded now in one
        batch (off the loop) and shared."""
        known: dict[str, Vectors] = {}
        missing: list[str] = []
        for text in dict.fromkeys(texts):
            if (vector := self.memo.get(text)) is not None:
                known[text] = vector
            else:
                missing.append(text)
        if missing and self._shared is not None and scope:
            found = dict(zip(missing, await self._shared.get(scope, missing), strict=True))
            for text, vector in found.items():
                if vector is not None:
                    known[text] = vector
                    self.memo.put(text, vector)
            missing = [text for text in missing if found[text] is None]
        if missing:
            fresh = dict(zip(missing, await self._embed(missing), strict=True))
            for text, vector in fresh.items():
                known[text] = vector
                self.memo.put(text, vector)
            if self._shared is not None and scope:
                await self._shared.put(scope, fresh)
        return np.stack([known[text] for text in texts])

    def _shortlist(self, question: str, pool: list[Candidate]) -> list[tuple[Candidate, float, float]]:
        """(candidate, cheap score, lexical score) for the best few by the features that need no model."""
        c = self.config
        lexical = lexical_scores(self._analyzer, question, [cand.text for cand in pool])
        kind = question_type.expected(question)
        scored = [
            (
                cand,
                c.lexical_weight * lx
                + c.rank_weight / (1 + cand.hit_rank)
                + c.type_weight * question_type.offers(kind, cand.text, question),
                lx,
            )
            for cand, lx in zip(pool, lexical, strict=True)
        ]
        return sorted(scored, key=lambda item: item[1], reverse=True)[: c.shortlist]

    def _choose(self, pool: list[Candidate], scores: list[float]) -> list[tuple[Candidate, float]]:
        ranked = sorted(zip(pool, scores, strict=True), key=lambda cs: cs[1], reverse=True)
        chosen = [ranked[0]]
        budget = self.config.max_chars - len(ranked[0][0].text) - 5
        for cand, score in ranked[1:]:
            if len(chosen) >= self.config.max_sentences or score < ranked[0][1] * self.config.companion_ratio:
                break
            if len(cand.text) + 5 <= budget:
                chosen.append((cand, score))
                budget -= len(cand.text) + 5
        return chosen

    def _confidence(self, best_dense: float, best_lexical: float) -> float:
        """Map evidence strength to [0, 1]: dense similarity dominates, keyword overlap corroborates."""
        raw = 0.65 * best_dense + 0.35 * best_lexical
        return float(1.0 / (1.0 + math.exp(-10.0 * (raw - 0.35))))

    @staticmethod
    def _render(chosen: list[tuple[Candidate, float]]) -> tuple[str, list[Citation]]:
        citations: list[Citation] = []
        parts: list[str] = []
        for n, (cand, score) in enumerate(chosen, start=1):
            hit = cand.hit
            citations.append(
                Citation(
                    n=n,
                    document_id=hit.document_id,
                    title=hit.title,
                    url=hit.url,
                    source=hit.source,
                    quote=cand.text,
                    start=cand.start,
                    end=cand.end,
                    score=round(score, 4),
                )
            )
            parts.append(f"{cand.text} [{n}]")
        return " ".join(parts), citations
