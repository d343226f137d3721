"""Keyword analysis: the one tokenizer used to index and to query (lowercase, stop words, English stems)."""

from __future__ import annotations

import re
from collections import Counter

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERM_CHARS = 64


class Analyzer:
    """Turns text into index terms. Cheap to share; holds the stemmer's cache."""

    def __init__(self, language: str = "english") -> None:
        self._stemmer = Stemmer.Stemmer(language)
        self._stopwords = frozenset(STOPWORDS_EN)

    def terms(self, text: str) -> list[str]:
        words = [w for w in WORD.findall(text.lower()) if w not in self._stopwords]
        return [t[:MAX_TERM_CHARS] for t in self._stemmer.stemWords(words)]

    def term_counts(self, text: str) -> Counter[str]:
        return Counter(self.terms(text))
