"""Markdown: headings build the section path, inline markup is reduced to plain text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from types import MappingProxyType

from markdown_it import MarkdownIt
from markdown_it.token import Token

from core.ingest.formats.document import (
    DocumentBuilder,
    Outline,
    ParsedDocument,
    collapse_whitespace,
    decode_utf8,
)

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<yaml>.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_TITLE = re.compile(r"^title:[ \t]*(?P<title>.+?)[ \t]*$", re.MULTILINE)
_HTML_TAG = re.compile(r"<!--.*?-->|<[^>]*>", re.DOTALL)
_SPACES = re.compile(r"[^\S\n]*\n[^\S\n]*|[^\S\n]{2,}")
_IMAGE = "\x00"  # marks a dropped image; markdown-it never passes NUL through in text
_IMAGE_GAP = re.compile(r"[^\S\n]*\x00(?=[.,;:!?)])|\x00")
_BREAKS = MappingProxyType({"softbreak": " ", "hardbreak": "\n"})
_INLINE_TEXT = frozenset({"text", "code_inline", "html_inline"})


def parse_md(data: bytes) -> ParsedDocument:
    """Parse CommonMark (plus tables and strikethrough) into blocks."""
    text, front_title = _split_front_matter(decode_utf8(data))
    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(text)
    walker = _MarkdownWalker()
    for token in tokens:
        walker.visit(token)
    return walker.builder.build(front_title or walker.first_h1)


def _split_front_matter(text: str) -> tuple[str, str | None]:
    """Drop a leading ``---`` YAML block and return its ``title:`` if present."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return text, None
    title = _FRONT_TITLE.search(match.group("yaml") or "")
    value = title.group("title").strip("\"'") if title else None
    return text[match.end() :], value


def inline_text(children: Sequence[Token]) -> str:
    """Plain text of an inline token's children: markers, link targets and images dropped."""
    parts: list[str] = []
    for child in children:
        if child.type in _INLINE_TEXT:
            parts.append(_HTML_TAG.sub("", child.content) if child.type == "html_inline" else child.content)
        elif child.type in _BREAKS:
            parts.append(_BREAKS[child.type])
        elif child.type == "image":
            parts.append(_IMAGE)
    text = _IMAGE_GAP.sub("", "".join(parts))
    return _SPACES.sub(lambda gap: "\n" if "\n" in gap.group() else " ", text)


class _MarkdownWalker:
    """Turns the flat markdown-it token stream into document blocks."""

    def __init__(self) -> None:
        self.builder = DocumentBuilder("md")
        self.first_h1: str | None = None
        self._outline = Outline()
        self._opener: Token | None = None
        self._lists: list[int | None] = []  # next number per open list; None for bullets
        self._bullet = ""  # prefix for the first paragraph of the current list item
        self._cells: list[str] = []

    def visit(self, token: Token) -> None:
        """Handle one token of the stream."""
        kind = token.type
        if kind in ("heading_open", "paragraph_open", "th_open", "td_open"):
            self._opener = token
        elif kind == "inline":
            self._inline(token)
        elif kind in ("fence", "code_block"):
            self.builder.add(token.content, "code", self._section)
        elif kind == "html_block":
            text = collapse_whitespace(_HTML_TAG.sub(" ", token.content))
            self.builder.add(text, "paragraph", self._section)
        else:
            self._structure(token)

    @property
    def _section(self) -> str:
        return self._outline.current

    def _structure(self, token: Token) -> None:
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            start = token.attrs.get("start", 1)
            self._lists.append(int(start) if kind == "ordered_list_open" else None)
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self._lists.pop()
        elif kind == "list_item_open":
            self._bullet = self._next_bullet(token)
        elif kind == "tr_open":
            self._cells = []
        elif kind == "tr_close":
            self.builder.add(" | ".join(cell for cell in self._cells if cell), "table", self._section)

    def _next_bullet(self, token: Token) -> str:
        number = self._lists[-1] if self._lists else None
        if number is None:
            return "- "
        self._lists[-1] = number + 1
        return f"{token.info or number}{token.markup or '.'} "

    def _inline(self, token: Token) -> None:
        text = inline_text(token.children or [])
        opener, self._opener = self._opener, None
        if opener is None:
            return
        if opener.type == "heading_open":
            self._heading(collapse_whitespace(text), int(opener.tag[1:]))
        elif opener.type in ("th_open", "td_open"):
            self._cells.append(collapse_whitespace(text))
        elif self._lists and text.strip():
            self.builder.add(self._bullet + text.strip(), "list", self._section)
            self._bullet = ""
        else:
            self.builder.add(text, "paragraph", self._section)

    def _heading(self, text: str, level: int) -> None:
        if not text:
            return
        if level == 1 and self.first_h1 is None:
            self.first_h1 = text
        self.builder.add(text, "heading", self._outline.enter(level, text))
