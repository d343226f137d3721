"""A short, human summary of how a document's text changed (for change alerts)."""

from __future__ import annotations

import difflib

MAX_LINES = 4000  # per side; beyond this a diff costs more than an alert is worth
SNIPPET = 140


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summarize(old: str | None, new: str | None) -> str:
    """ "+2 lines, -1 line: <first added line>", or what happened when there is no before/after."""
    if old is None:
        return f"new document ({_plural(len((new or '').splitlines()), 'line')})"
    if new is None:
        return "removed"
    before, after = old.splitlines()[:MAX_LINES], new.splitlines()[:MAX_LINES]
    added: list[str] = []
    removed = 0
    for line in difflib.unified_diff(before, after, lineterm="", n=0):
        if line.startswith("+") and not line.startswith("+++"):
            added.append(line[1:])
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    if not added and not removed:
        return "metadata changed (title, link, collection or access)"
    head = f"+{_plural(len(added), 'line')}, -{_plural(removed, 'line')}"
    first = next((a.strip() for a in added if a.strip()), "")
    if not first:
        return head
    snippet = first if len(first) <= SNIPPET else first[: SNIPPET - 1] + "…"
    return f"{head}: {snippet}"
