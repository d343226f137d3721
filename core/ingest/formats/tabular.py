"""CSV and JSON: one ``row`` block per record, rendered as ``key: value; key: value``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import TypeAlias

from core.errors import ParseError
from core.ingest.formats.document import DocumentBuilder, ParsedDocument, collapse_whitespace, decode_utf8

_SNIFF_CHARS = 64 * 1024
_DELIMITERS = ",;\t|"
_MAX_DEPTH = 6  # deeper JSON values are rendered as compact JSON
_MAX_COMPACT = 300

JsonValue: TypeAlias = dict[str, "JsonValue"] | list["JsonValue"] | str | int | float | bool | None


def parse_csv(data: bytes) -> ParsedDocument:
    """The first row is the header; every data row becomes ``col: value; col: value``."""
    text = decode_utf8(data)
    delimiter, quotechar, skipinitialspace = _dialect(text)
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=delimiter,
        quotechar=quotechar,
        skipinitialspace=skipinitialspace,
    )
    builder = DocumentBuilder("csv")
    try:
        header = [collapse_whitespace(name) for name in next(reader, [])]
        for row in reader:
            builder.add(_render_row(header, row), "row")
    except csv.Error as exc:
        raise ParseError(f"not valid CSV (line {reader.line_num}): {exc}") from exc
    return builder.build(None)


def _dialect(text: str) -> tuple[str, str, bool]:
    """Delimiter, quote character and initial-space handling sniffed from the start of the file."""
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS)
    except csv.Error:
        return ",", '"', False
    return sniffed.delimiter, sniffed.quotechar or '"', sniffed.skipinitialspace


def _render_row(header: list[str], row: list[str]) -> str:
    pairs = []
    for index, raw in enumerate(row):
        value = collapse_whitespace(raw)
        if value:
            name = header[index] if index < len(header) and header[index] else f"column {index + 1}"
            pairs.append(f"{name}: {value}")
    return "; ".join(pairs)


def parse_json(data: bytes) -> ParsedDocument:
    """An array gives one block per element; an object one block per top-level key."""
    text = decode_utf8(data)
    builder = DocumentBuilder("json")
    try:
        value: JsonValue = json.loads(text)
        for record in json_records(value):
            builder.add(record, "row")
    except ValueError as exc:
        raise ParseError(f"not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise ParseError("JSON is nested too deeply") from exc
    return builder.build(None)


def json_records(value: JsonValue) -> Iterator[str]:
    """Rendered records; a top-level key holding a list of objects gives one record per object."""
    if isinstance(value, list):
        for item in value:
            yield render_json(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, list) and item and all(isinstance(element, dict) for element in item):
                for index, element in enumerate(item):
                    yield render_json(element, f"{key}[{index}]")
            else:
                yield render_json(item, key)
    else:
        yield render_json(value)


def render_json(value: JsonValue, path: str = "") -> str:
    """``a.b: value; c: value`` for every non-empty leaf under ``value``."""
    return "; ".join(f"{key}: {leaf}" if key else leaf for key, leaf in _leaves(value, path, 0))


def _leaves(value: JsonValue, path: str, depth: int) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict | list) and depth >= _MAX_DEPTH:
        yield path, _compact(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(value, list):
        yield from _list_leaves(value, path, depth)
    elif (leaf := _scalar(value)) != "":
        yield path, leaf


def _list_leaves(items: list[JsonValue], path: str, depth: int) -> Iterator[tuple[str, str]]:
    if all(not isinstance(item, dict | list) for item in items):
        joined = ", ".join(leaf for item in items if (leaf := _scalar(item)))
        if joined:
            yield path, joined
        return
    for index, item in enumerate(items):
        yield from _leaves(item, f"{path}[{index}]", depth + 1)


def _scalar(value: JsonValue) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return collapse_whitespace(str(value))


def _compact(value: JsonValue) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= _MAX_COMPACT else text[: _MAX_COMPACT - 1] + "…"
