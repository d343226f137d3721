"""What kind of answer a question expects, and whether a sentence offers one (an offline QA heuristic).

"How many ..." wants a number, "when ..." a date or time, "who"/"where" a name the question does not
already contain. A sentence that offers the expected kind of answer is a better candidate than one that
only repeats the question's words (a heading, say).
"""

from __future__ import annotations

import re

NUMBER = re.compile(r"\d")
YEAR_OR_TIME = re.compile(
    r"\b(1[0-9]{3}|20[0-9]{2})s?\b|\b\d{1,2}(:\d{2})?\s?(a\.?m\.?|p\.?m\.?)|\b(january|february|march|april|may|"
    r"june|july|august|september|october|november|december|monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday|century|centuries|decade|weeks?|days?|hours?|minutes?)\b",
    re.IGNORECASE,
)
CAPITALISED = re.compile(r"\b[A-Z][\w'-]+")
NUMERIC_CUES = re.compile(
    r"^(how (many|much|long|old|far|big|large|tall|high|often|fast|deep|wide|heavy))|"
    r"\b(what|which) (percentage|percent|number|amount|size|limit|cost|price|rate|population|score|age)\b",
    re.IGNORECASE,
)
NUMERIC_NOUNS = re.compile(
    r"\b(limit|cost|price|percentage|percent|amount|fee|budget|stipend|allowance|per diem|salary|"
    r"population|number of|how much)\b",
    re.IGNORECASE,
)
TEMPORAL_CUES = re.compile(
    r"^when\b|\b(what|which) (year|date|time|century|decade|day|month|period)\b", re.IGNORECASE
)
ENTITY_CUES = re.compile(r"^(who|whom|whose|where)\b|\b(who|whom|whose|where)\b", re.IGNORECASE)


def expected(question: str) -> str:
    """One of "number", "time", "entity" or "any"."""
    q = question.strip()
    if TEMPORAL_CUES.search(q):
        return "time"
    if NUMERIC_CUES.search(q) or NUMERIC_NOUNS.search(q):
        return "number"
    if ENTITY_CUES.search(q):
        return "entity"
    return "any"


def offers(kind: str, sentence: str, question: str) -> bool:
    """Whether the sentence contains the kind of thing the question asks for, beyond the question itself."""
    if kind == "number":
        return bool(NUMBER.search(sentence))
    if kind == "time":
        return bool(YEAR_OR_TIME.search(sentence))
    if kind == "entity":
        asked = {w.lower() for w in CAPITALISED.findall(question)}
        return any(w.lower() not in asked for w in CAPITALISED.findall(sentence)[1:])
    return False
