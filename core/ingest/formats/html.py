"""HTML: visible text only, headings build the section path, one block per table row."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from bs4.element import NavigableString, PageElement, PreformattedString, Tag

from core.ingest.formats.document import (
    DocumentBuilder,
    Outline,
    ParsedDocument,
    collapse_whitespace,
    decode_utf8,
)

_DROPPED = ["script", "style", "noscript", "nav", "footer", "header", "svg", "template", "form", "head"]
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCKS = _HEADINGS | frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "hgroup", "hr", "html", "li",
        "main", "menu", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th",
        "thead", "tr", "ul",
    }
)  # fmt: skip


def parse_html(data: bytes) -> ParsedDocument:
    """Parse HTML with lxml; scripts, navigation, headers, footers and forms are dropped."""
    soup = _soup(decode_utf8(data))
    title_tag = soup.find("title")
    title = title_tag.get_text() if title_tag is not None else None
    for tag in soup.find_all(_DROPPED):
        tag.decompose()
    walker = _HtmlWalker()
    walker.walk(soup)
    return walker.builder.build(title if title and title.strip() else walker.first_h1)


def _soup(text: str) -> BeautifulSoup:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(text, "lxml")


def inline_text(tag: Tag) -> str:
    """All visible text under ``tag``, with a space wherever a block or line break starts."""
    parts: list[str] = []
    for node in tag.descendants:
        if isinstance(node, Tag):
            if node.name in _BLOCKS or node.name == "br":
                parts.append(" ")
        elif isinstance(node, NavigableString) and not isinstance(node, PreformattedString):
            parts.append(str(node))
    return collapse_whitespace("".join(parts))


@dataclass(frozen=True, slots=True)
class _Leave:
    """Marks the end of a block container on the walk stack."""

    outer_kind: str


class _HtmlWalker:
    """Depth-first walk (an explicit stack, so deep nesting is fine) collecting inline text."""

    def __init__(self) -> None:
        self.builder = DocumentBuilder("html")
        self.first_h1: str | None = None
        self._outline = Outline()
        self._parts: list[str] = []
        self._kind = "paragraph"

    def walk(self, root: Tag) -> None:
        """Emit the blocks of everything under ``root``."""
        stack: list[PageElement | _Leave] = list(reversed(list(root.children)))
        while stack:
            item = stack.pop()
            if isinstance(item, _Leave):
                self.flush()
                self._kind = item.outer_kind
            elif isinstance(item, Tag):
                self._enter(item, stack)
            elif isinstance(item, NavigableString) and not isinstance(item, PreformattedString):
                self._parts.append(str(item))
        self.flush()

    def flush(self) -> None:
        """Emit the collected inline text as one block."""
        text = collapse_whitespace("".join(self._parts))
        self._parts = []
        self.builder.add(text, self._kind, self._outline.current)

    def _enter(self, tag: Tag, stack: list[PageElement | _Leave]) -> None:
        if tag.name == "br":
            self._parts.append(" ")
            return
        if tag.name in _BLOCKS:
            self.flush()
            if self._leaf_block(tag):
                return
            stack.append(_Leave(self._kind))
            self._kind = "list" if tag.name == "li" else self._kind
        stack.extend(reversed(list(tag.children)))

    def _leaf_block(self, tag: Tag) -> bool:
        """Handle headings, table rows and preformatted text whole; False for other blocks."""
        if tag.name in _HEADINGS:
            self._heading(tag)
        elif tag.name == "tr":
            cells = (inline_text(cell) for cell in tag.find_all(["td", "th"], recursive=False))
            self.builder.add(" | ".join(cell for cell in cells if cell), "table", self._outline.current)
        elif tag.name == "pre":
            self.builder.add(tag.get_text(), "code", self._outline.current)
        else:
            return False
        return True

    def _heading(self, tag: Tag) -> None:
        text = inline_text(tag)
        if not text:
            return
        if tag.name == "h1" and self.first_h1 is None:
            self.first_h1 = text
        self.builder.add(text, "heading", self._outline.enter(int(tag.name[1]), text))
