"""Split a parsed document into embedding-sized chunks that quote its text exactly."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from core.ingest.parse import ParsedDocument
from core.ingest.sentences import split_sentences
from core.ingest.tokens import count_tokens

_NON_SPACE = re.compile(r"\S+")
_MIN_BUDGET = 4
_CHARS_PER_TOKEN_CAP = 8  # no text packs more characters than this into one estimated token
_SECTION_SEPARATOR = " > "


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk: ``text == doc.text[start:end]``."""

    ord: int
    start: int
    end: int
    section: str
    text: str


@dataclass(frozen=True, slots=True)
class _Piece:
    """The unit the packer moves: a block, a sentence, a run of words, or a carried overlap."""

    start: int
    end: int
    section: str
    kind: str
    tokens: int
    solo: bool = False  # a cut through one over-long word: always a chunk of its own


def chunk_document(doc: ParsedDocument, *, max_tokens: int = 200, overlap_tokens: int = 40) -> list[Chunk]:
    """Pack blocks into chunks of at most ``max_tokens`` estimated tokens (see ``count_tokens``)."""
    if max_tokens < _MIN_BUDGET or not 0 <= overlap_tokens < max_tokens:
        raise ValueError(f"need max_tokens >= {_MIN_BUDGET} and 0 <= overlap_tokens < max_tokens")
    pieces = list(_pieces(doc, max_tokens))
    if not pieces:
        return []
    if count_tokens(doc.text[pieces[0].start : pieces[-1].end]) <= max_tokens:
        groups = [pieces]  # a tiny document is one chunk
    else:
        groups = _Packer(doc.text, max_tokens, overlap_tokens).pack(pieces)
    return [_chunk(doc.text, number, group) for number, group in enumerate(groups)]


def _chunk(text: str, number: int, group: Sequence[_Piece]) -> Chunk:
    start, end = group[0].start, group[-1].end
    content = [piece.section for piece in group if piece.kind != "heading"]
    section = _common_section(content or [piece.section for piece in group])
    return Chunk(ord=number, start=start, end=end, section=section, text=text[start:end])


def _common_section(sections: Sequence[str]) -> str:
    """The longest heading path shared by all ``sections``."""
    paths = [section.split(_SECTION_SEPARATOR) for section in sections]
    shared = paths[0]
    for path in paths[1:]:
        size = 0
        while size < min(len(shared), len(path)) and shared[size] == path[size]:
            size += 1
        shared = shared[:size]
    return _SECTION_SEPARATOR.join(shared)


def _pieces(doc: ParsedDocument, max_tokens: int) -> Iterator[_Piece]:
    """Blocks, with any block over budget split into sentences and then into runs of words."""
    text = doc.text
    for block in doc.blocks:
        start, end = _trim(text, block.start, block.end)
        if start >= end:
            continue
        tokens = count_tokens(text[start:end])
        if tokens <= max_tokens:
            yield _Piece(start, end, block.section, block.kind, tokens)
            continue
        for sentence_start, sentence_end in split_sentences(text, start, end):
            for piece_start, piece_end, solo in _fit(text, sentence_start, sentence_end, max_tokens):
                tokens = count_tokens(text[piece_start:piece_end])
                yield _Piece(piece_start, piece_end, block.section, block.kind, tokens, solo)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _fit(text: str, start: int, end: int, max_tokens: int) -> Iterator[tuple[int, int, bool]]:
    """``(start, end, solo)`` spans within budget: the whole span, or runs of whole words."""
    if count_tokens(text[start:end]) <= max_tokens:
        yield start, end, False
        return
    run_start, run_end, run_tokens = -1, -1, 0
    for word in _NON_SPACE.finditer(text, start, end):
        tokens = count_tokens(word.group())
        if run_start >= 0 and run_tokens + tokens > max_tokens:
            yield run_start, run_end, False
            run_start, run_tokens = -1, 0
        if tokens > max_tokens:
            yield from _cut(text, *word.span(), max_tokens)
            continue
        run_start = word.start() if run_start < 0 else run_start
        run_end, run_tokens = word.end(), run_tokens + tokens
    if run_start >= 0:
        yield run_start, run_end, False


def _cut(text: str, start: int, end: int, max_tokens: int) -> Iterator[tuple[int, int, bool]]:
    """Cut one over-long word into the longest prefixes that fit the budget (solo pieces)."""
    while start < end:
        low, high = 1, min(end - start, max_tokens * _CHARS_PER_TOKEN_CAP)
        while low < high:  # the longest length whose estimate fits
            middle = (low + high + 1) // 2
            if count_tokens(text[start : start + middle]) <= max_tokens:
                low = middle
            else:
                high = middle - 1
        yield start, start + low, True
        start += low


class _Packer:
    """Greedy packing of pieces into groups, with sentence overlap inside a section."""

    def __init__(self, text: str, max_tokens: int, overlap_tokens: int) -> None:
        self._text = text
        self._max = max_tokens
        self._overlap = overlap_tokens
        self._groups: list[list[_Piece]] = []
        self._current: list[_Piece] = []
        self._tokens = 0

    def pack(self, pieces: Sequence[_Piece]) -> list[list[_Piece]]:
        """Groups of pieces, one per chunk, in document order."""
        for piece in pieces:
            self._add(piece)
        self._close()
        return self._groups

    def _add(self, piece: _Piece) -> None:
        if self._current:
            reason = self._break_reason(piece)
            if reason is not None:
                carried = self._carry(piece) if reason == "budget" else None
                self._close()
                if carried is not None:
                    self._current, self._tokens = [carried], carried.tokens
        self._current.append(piece)
        self._tokens += piece.tokens

    def _break_reason(self, piece: _Piece) -> str | None:
        """Why ``piece`` must start a new chunk ("structure" or "budget"), or None when it joins."""
        if piece.solo or self._current[-1].solo:
            return "structure"
        content = [part for part in self._current if part.kind != "heading"]
        if content and (piece.kind == "heading" or piece.section != content[0].section):
            return "structure"
        return "budget" if self._tokens + piece.tokens > self._max else None

    def _carry(self, piece: _Piece) -> _Piece | None:
        """The previous chunk's trailing sentences to repeat before ``piece``, if any fit."""
        last = self._current[-1]
        if "row" in (piece.kind, last.kind) or last.kind == "heading" or self._overlap == 0:
            return None
        headings = [index for index, part in enumerate(self._current) if part.kind == "heading"]
        region_start = self._current[headings[-1] + 1 if headings else 0].start
        limit = min(self._overlap, self._max - piece.tokens)
        begin, total = None, 0
        for start, end in reversed(split_sentences(self._text, region_start, last.end)[1:]):
            total += count_tokens(self._text[start:end])
            if total > limit:
                break
            begin = start
        if begin is None:
            return None
        return _Piece(begin, last.end, piece.section, "overlap", count_tokens(self._text[begin : last.end]))

    def _close(self) -> None:
        if self._current:
            self._groups.append(self._current)
        self._current, self._tokens = [], 0
