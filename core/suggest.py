"""Query suggestions: completions of what a user is typing, from one workspace's document titles,
section headings and frequent phrases. Never reads another workspace."""

from __future__ import annotations

import re
from collections import Counter

from sqlalchemy import func, select

from core.db import Sessions
from core.tables import Chunk, Document, Workspace

SCAN_DOCUMENTS = 50


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Suggester:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def suggest(self, workspace: Workspace, prefix: str, *, limit: int = 8) -> list[str]:
        prefix = " ".join(prefix.split())
        if len(prefix) < 2:
            return []
        pattern = f"%{escape_like(prefix.lower())}%"
        found: dict[str, None] = {}
        for text in await self._titles_and_headings(workspace, pattern):
            found.setdefault(text, None)
        for phrase in await self._phrases(workspace, prefix, pattern):
            if phrase.lower() not in {f.lower() for f in found}:
                found.setdefault(phrase, None)
        ranked = sorted(found, key=lambda s: (not s.lower().startswith(prefix.lower()), len(s)))
        return ranked[:limit]

    async def _titles_and_headings(self, workspace: Workspace, pattern: str) -> list[str]:
        async with self._sessions() as session:
            titles = await session.scalars(
                select(Document.title)
                .where(Document.workspace_id == workspace.id, func.lower(Document.title).like(pattern, "\\"))
                .distinct()
                .limit(20)
            )
            sections = await session.scalars(
                select(Chunk.section)
                .where(Chunk.workspace_id == workspace.id, func.lower(Chunk.section).like(pattern, "\\"))
                .distinct()
                .limit(40)
            )
            out = list(titles)
            lowered = pattern.strip("%").replace("\\", "")
            for section in sections:
                out.extend(p.strip() for p in section.split(" > ") if lowered in p.lower())
        return out

    async def _phrases(self, workspace: Workspace, prefix: str, pattern: str) -> list[str]:
        """Frequent phrases (up to four words) in the workspace's text that begin with the prefix."""
        async with self._sessions() as session:
            texts = await session.scalars(
                select(Document.text)
                .where(Document.workspace_id == workspace.id, func.lower(Document.text).like(pattern, "\\"))
                .limit(SCAN_DOCUMENTS)
            )
            phrase = re.compile(rf"\b{re.escape(prefix)}\w*(?:[ \t]+[\w'-]+){{0,3}}", re.IGNORECASE)
            counts = Counter(m.group(0).lower() for text in texts for m in phrase.finditer(text))
        return [p for p, _ in counts.most_common(10)]
