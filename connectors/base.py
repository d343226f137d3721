"""The connector interface: a connector only fetches; ``connectors.sync`` does everything else.

A connector turns a saved cursor into pages of changes. Each page carries the cursor to save once the
page is applied, so a crash resumes from the last page that was fully written. A connector that cannot
report deletions ends with a page whose ``present`` lists every id that still exists; the loop sweeps
the others.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from core.errors import AuthError, PermanentError, TransientError


@dataclass(frozen=True, slots=True)
class Item:
    """One fetched document, identified by the remote system's own id (unique within the source)."""

    id: str
    data: bytes
    title: str
    url: str | None = None
    doc_type: str | None = None
    filename: str = ""
    acl: list[str] | None = None  # None: public within the workspace
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """A batch of changes, and the cursor that is true once they are applied."""

    cursor: str | None
    upserts: list[Item] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    present: set[str] | None = None  # every id that exists now: the loop removes the others
    failures: list[tuple[str, str]] = field(default_factory=list)  # (id, reason) skipped items


class Connector(Protocol):
    """Fetch the changes since ``cursor`` (None: everything), one page at a time."""

    def pages(self, cursor: str | None) -> AsyncIterator[Page]: ...


def load_cursor(cursor: str | None) -> dict[str, Any]:
    """Cursors are JSON objects in ``Source.cursor``; an unreadable one starts over (a full sync)."""
    if not cursor:
        return {}
    try:
        loaded = json.loads(cursor)
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def dump_cursor(state: dict[str, Any]) -> str:
    return json.dumps(state, sort_keys=True, separators=(",", ":"))


def retry_after(headers: Any) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds form); None when absent or unreadable."""
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(float(value), 0.0) if value is not None else None
    except (TypeError, ValueError):
        return None


def http_error(service: str, status: int, headers: Any, detail: str = "") -> Exception:
    """An HTTP failure as the error tree says: 401/403 pause the source, 429/5xx retry later."""
    reason = f"{service} answered HTTP {status}" + (f": {detail[:200]}" if detail else "")
    if status in (401, 403):
        return AuthError(f"{reason} (check the source's credentials and permissions)")
    if status == 429 or status >= 500:
        return TransientError(reason, retry_after_s=retry_after(headers))
    return PermanentError(reason)
