"""A fast, tokenizer-free estimate of all-MiniLM-L6-v2 WordPiece token counts.

Calibrated against the real tokenizer: it over-counts English prose by about a third and is within
~15% on code, JSON and identifier-heavy text, so a 200-token budget stays under the model's 256.
Counting is done in integer tenths, so the estimate of two texts joined by whitespace is never more
than the sum of their estimates: the chunker can add up the counts of its pieces.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+")  # letters and digits; WordPiece splits every other symbol off
_SYMBOL = re.compile(r"[^\w\s]|_")
# letter/digit switches and lowerUpper humps, where WordPiece usually starts a new piece
_JOINT = re.compile(r"\d(?=[^\W\d_])|[^\W\d_](?=\d)|[a-z](?=[A-Z])")
_TENTHS_PER_WORD = 12  # a word of up to _FREE_LETTERS characters: 1.2 pieces on average
_FREE_LETTERS = 6
_TENTHS_PER_LETTER = 4  # each further letter: 1 piece per 2.5 letters
_LATIN_END = "\u024f"  # beyond Latin Extended-B, WordPiece mostly falls back to one piece per character


def count_tokens(text: str) -> int:
    """Estimated WordPiece tokens of ``text`` (no [CLS]/[SEP])."""
    tenths = 10 * (len(_SYMBOL.findall(text)) + len(_JOINT.findall(text)))
    for word in _WORD.findall(text):
        if word.isascii() or max(word) <= _LATIN_END:
            tenths += _TENTHS_PER_WORD + _TENTHS_PER_LETTER * max(0, len(word) - _FREE_LETTERS)
        else:
            tenths += 10 * len(word)
    return -(-tenths // 10)
