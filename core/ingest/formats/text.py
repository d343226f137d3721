"""Plain text: paragraphs are separated by blank lines."""

from __future__ import annotations

import re

from core.ingest.formats.document import DocumentBuilder, ParsedDocument, decode_utf8

_BLANK_LINES = re.compile(r"\n[^\S\n]*(?:\n\s*)+")


def parse_txt(data: bytes) -> ParsedDocument:
    """One paragraph block per blank-line separated run of lines; line breaks inside are kept."""
    builder = DocumentBuilder("txt")
    for paragraph in _BLANK_LINES.split(decode_utf8(data)):
        builder.add("\n".join(line.rstrip() for line in paragraph.split("\n")), "paragraph")
    return builder.build(None)
