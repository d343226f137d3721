"""Which model tier a question gets: cheap for short factual questions, strong for long or multi-part ones.

A workspace may pin a tier. The chosen provider and model are shown in the answer's ``model``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.llm import Tier

MULTI_PART = re.compile(r"\b(and|compare|versus|vs\.?|difference|explain|why|steps?|how do|how to)\b", re.I)


@dataclass(frozen=True, slots=True)
class SelectionRules:
    short_words: int = 12  # at most this many words, one question mark, no multi-part cue: cheap
    workspace_tiers: dict[str, Tier] = field(default_factory=dict)

    def tier(self, workspace: str, question: str) -> Tier:
        pinned = self.workspace_tiers.get(workspace)
        if pinned is not None:
            return pinned
        words = len(question.split())
        if words <= self.short_words and question.count("?") <= 1 and not MULTI_PART.search(question):
            return "cheap"
        return "strong"
