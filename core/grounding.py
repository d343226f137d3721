"""Grounded generation: the prompt over numbered sources, and the check of what the model cited.

The model answers with markers ``[n]`` and, after a ``QUOTES:`` line, one ``[n] "exact words"`` line per
source it used, then ``RELATED:`` with follow-up questions. The checker keeps a citation only when
source ``n`` exists and its quote really occurs in that source's chunk; it repairs what it can (a quote
found in another source is renumbered to it; a quote differing only in case or spacing is mapped to the
exact text) and drops the rest, with their markers. Quotes become exact ``[start, end)`` document spans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from openai.types.chat import ChatCompletionMessageParam

from core.models import Citation, SearchHit

SYSTEM = (
    "You answer questions using ONLY the numbered sources. Cite every claim with its source number "
    "in square brackets, like [1]. If the sources do not contain the answer, reply exactly: NOT FOUND.\n"
    "After the answer write a line 'QUOTES:' and, for each source you cited, one line: "
    '[n] "the exact words from source n that support the claim" (copied verbatim, one sentence at most).\n'
    "Then write a line 'RELATED:' and three short follow-up questions these sources can answer, one per line."
)
MARKER = re.compile(r"\s?\[(\d{1,3})\]")
QUOTE_LINE = re.compile(r"^\s*\[(\d{1,3})\]\s*[\"“](.+?)[\"”]\s*$")
NOT_FOUND = "NOT FOUND"


def prompt(question: str, hits: list[SearchHit]) -> list[ChatCompletionMessageParam]:
    sources = "\n\n".join(
        f"[{n}] {hit.title}{' / ' + hit.section if hit.section else ''}\n{hit.text}"
        for n, hit in enumerate(hits, start=1)
    )
    user = f"Sources:\n\n{sources}\n\nQuestion: {question}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


@dataclass(frozen=True, slots=True)
class Draft:
    answer: str
    quotes: dict[int, str]
    related: list[str]


def parse(output: str) -> Draft:
    """Split the model's output into the answer, its quotes by number and the related questions."""
    body, _, rest = output.partition("QUOTES:")
    quotes_part, _, related_part = rest.partition("RELATED:")
    if not rest:
        body, _, related_part = output.partition("RELATED:")
    quotes: dict[int, str] = {}
    for line in quotes_part.splitlines():
        match = QUOTE_LINE.match(line)
        if match:
            quotes.setdefault(int(match[1]), match[2].strip())
    related = [q.strip(" -*0123456789.)\t") for q in related_part.splitlines()]
    return Draft(body.strip(), quotes, [q for q in related if q.endswith("?")][:3])


def normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def locate(quote: str, chunk: str) -> tuple[int, int] | None:
    """[start, end) of ``quote`` in ``chunk``: exact, else ignoring case and runs of whitespace."""
    quote = quote.strip()
    if not quote:
        return None
    exact = chunk.find(quote)
    if exact >= 0:
        return exact, exact + len(quote)
    words = [re.escape(w) for w in quote.split()]
    match = re.search(r"\s+".join(words), chunk, flags=re.IGNORECASE)
    return (match.start(), match.end()) if match else None


@dataclass(frozen=True, slots=True)
class Checked:
    answer: str
    citations: list[Citation]
    repaired: int
    dropped: int
    cited_sentences: float  # share of the answer's sentences that keep at least one valid citation


class CitationChecker:
    def check(self, draft: Draft, hits: list[SearchHit]) -> Checked:
        resolved: dict[int, tuple[int, tuple[int, int]]] = {}  # cited n -> (source index, span)
        repaired = dropped = 0
        for n in sorted({int(m) for m in MARKER.findall(draft.answer)}):
            found = self._resolve(n, draft.quotes.get(n, ""), hits)
            if found is None:
                dropped += 1
                continue
            repaired += found[2]
            resolved[n] = (found[0], found[1])
        answer, citations = self._renumber(draft.answer, resolved, hits)
        return Checked(answer, citations, repaired, dropped, coverage(answer))

    @staticmethod
    def _resolve(n: int, quote: str, hits: list[SearchHit]) -> tuple[int, tuple[int, int], int] | None:
        """(source index, span in its chunk, 1 if repaired) for a cited number, or None to drop it."""
        if 1 <= n <= len(hits):
            span = locate(quote, hits[n - 1].text)
            if span is not None:
                exact = hits[n - 1].text[span[0] : span[1]] == quote.strip()
                return n - 1, span, 0 if exact else 1
        for index, hit in enumerate(hits):  # wrong number: the quote may live in another source
            span = locate(quote, hit.text)
            if span is not None:
                return index, span, 1
        return None

    @staticmethod
    def _renumber(
        answer: str, resolved: dict[int, tuple[int, tuple[int, int]]], hits: list[SearchHit]
    ) -> tuple[str, list[Citation]]:
        numbers: dict[tuple[int, tuple[int, int]], int] = {}
        citations: list[Citation] = []

        def replace(match: re.Match[str]) -> str:
            target = resolved.get(int(match[1]))
            if target is None:
                return ""
            if target not in numbers:
                numbers[target] = len(numbers) + 1
                citations.append(cite(numbers[target], hits[target[0]], target[1]))
            return f" [{numbers[target]}]"

        text = MARKER.sub(replace, answer)
        text = re.sub(r"(\[\d+\])(\s\1)+", r"\1", text)  # "[1] [1]" after renumbering
        return text.strip(), citations


def cite(n: int, hit: SearchHit, span: tuple[int, int]) -> Citation:
    """A citation with document offsets: the chunk starts at ``hit.start`` in the document's text."""
    return Citation(
        n=n,
        document_id=hit.document_id,
        title=hit.title,
        url=hit.url,
        source=hit.source,
        quote=hit.text[span[0] : span[1]],
        start=hit.start + span[0],
        end=hit.start + span[1],
        score=round(hit.score, 4),
    )


SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])|(?<=\])\s+(?=[A-Z])|\n+")


def coverage(answer: str) -> float:
    sentences = [s for s in SENTENCE_END.split(answer) if len(s.split()) >= 3]
    if not sentences:
        return 0.0
    return sum(1 for s in sentences if MARKER.search(s)) / len(sentences)
