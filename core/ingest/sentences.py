"""Sentence spans of plain text, by regex: abbreviations, decimals, initials and list lines aware."""

from __future__ import annotations

import re

# Sentence-final punctuation, closing quotes/brackets, then whitespace (decimals like 3.5 never match).
_TERMINAL = re.compile(r"(?P<punct>[.!?…]+)[\"'”’»)\]]*(?=\s)")
# A whitespace run that contains at least one newline.
_LINE_BREAK = re.compile(r"[^\S\n]*\n\s*")
# A line that starts like a list item or a "key: value" row.
_LIST_LINE = re.compile(r"(?:[-*•+>]|\d{1,3}[.)]|[a-zA-Z][.)])\s|[\w ]{1,40}:\s")
_ROW_LINE = re.compile(r" \| |; \S+: ")
_OPENERS = "\"'“‘«([{"
_ENUMERATOR = re.compile(r"(?:\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4})")
# Words that a period does not end when a capital follows ("Dr. Smith", "e.g. Slack", "No. 5").
_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st mt ft rev hon gen col lt capt sgt gov pres dept univ assn bros
    vs v e.g i.e cf viz al approx ca est no nos fig figs vol vols pp p ch sec secs eq eqs ref refs
    art op ed eds jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k u.n e.u a.k.a
    """.split()  # noqa: SIM905
)


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans ``[s, e)`` of ``text`` within ``[start, end)``, trimmed and never empty."""
    stop = len(text) if end is None else max(0, min(end, len(text)))
    spans: list[tuple[int, int]] = []
    segment_start = max(0, start)
    for match in _LINE_BREAK.finditer(text, segment_start, stop):
        if _hard_break(text, segment_start, stop, match):
            _split_segment(text, segment_start, match.start(), spans)
            segment_start = match.end()
    _split_segment(text, segment_start, stop, spans)
    return spans


def _hard_break(text: str, line_start: int, stop: int, match: re.Match[str]) -> bool:
    """Blank lines always break; a single newline breaks unless it only wraps running prose."""
    if match.group().count("\n") > 1 or match.end() >= stop:
        return True
    previous_end = text.rfind("\n", line_start, match.start()) + 1 or line_start
    previous = text[max(previous_end, match.start() - 200) : match.start()]
    nxt = text[match.end() : match.end() + 50]
    if not nxt[:1].islower() or _LIST_LINE.match(nxt):
        return True
    wraps = previous[-1:].isalnum() or previous[-1:] in (",", ")")
    return not wraps or bool(_ROW_LINE.search(previous))


def _split_segment(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    """Append the sentences of one stretch of text that has no hard line break."""
    begin = start
    for match in _TERMINAL.finditer(text, start, end):
        if _ends_sentence(text, start, end, match):
            _append_trimmed(text, begin, match.end(), spans)
            begin = match.end()
    _append_trimmed(text, begin, end, spans)


def _ends_sentence(text: str, segment_start: int, segment_end: int, match: re.Match[str]) -> bool:
    following = _next_visible(text, match.end(), segment_end)
    if following is None:
        return True
    if following.islower():
        return False
    if match.group("punct") != ".":
        return True
    word_start = match.start("punct")
    while word_start > segment_start and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start : match.start("punct")].lstrip(_OPENERS)
    return not _is_abbreviation(word, at_line_start=not text[segment_start:word_start].strip())


def _is_abbreviation(word: str, *, at_line_start: bool) -> bool:
    """Whether a period after ``word`` is part of it rather than the end of a sentence."""
    if at_line_start and _ENUMERATOR.fullmatch(word):
        return True  # "1. Install", "b) Restart", "iv. Check"
    if len(word) == 1 and word.isalpha():
        return True  # an initial: "J. Smith"
    return word.lower() in _ABBREVIATIONS


def _next_visible(text: str, index: int, end: int) -> str | None:
    """The first character after whitespace and opening quotes/brackets, or None at the end."""
    while index < end and (text[index].isspace() or text[index] in _OPENERS):
        index += 1
    return text[index] if index < end else None


def _append_trimmed(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        spans.append((start, end))
