"""The LLM answerer: grounded prompt → router (failover) → citation check → confidence → answer.

Returns None (the extractive answer follows) when no provider is configured, the workspace is over its
monthly budget, or every provider failed. Every served call is charged to the provider that served it.
"""

from __future__ import annotations

import logging
import math

from openai.types.chat import ChatCompletionMessageParam

from core.costs import CostLedger
from core.grounding import NOT_FOUND, Checked, CitationChecker, parse, prompt
from core.llm import AllProvidersFailed, Completion, LLMRouter, Tier
from core.memory import Turn
from core.models import Answer, Asker, Question, SearchHit, Usage
from core.related import RelatedQuestions
from core.selection import SelectionRules
from core.tables import Workspace

log = logging.getLogger(__name__)
REWRITE_SYSTEM = (
    "Rewrite the user's last message as one standalone search question, using the conversation for "
    "context. Reply with the question only."
)


def retrieval_strength(hits: list[SearchHit]) -> float:
    """How well the best hit matches, in [0, 1]: dense similarity when known, else keyword evidence."""
    vectors = [h.vector_score for h in hits[:3] if h.vector_score is not None]
    if vectors:
        return 1.0 / (1.0 + math.exp(-10.0 * (max(vectors) - 0.35)))
    return 0.6 if any(h.keyword_score for h in hits[:3]) else 0.2


def confidence(hits: list[SearchHit], checked: Checked) -> float:
    return round(0.5 * retrieval_strength(hits) + 0.5 * checked.cited_sentences, 4)


class GroundedAnswerer:
    def __init__(
        self,
        router: LLMRouter,
        ledger: CostLedger,
        related: RelatedQuestions,
        *,
        rules: SelectionRules | None = None,
        abstain_below: float = 0.4,
        context_hits: int = 6,
    ) -> None:
        self._router = router
        self._ledger = ledger
        self._related = related
        self._rules = rules or SelectionRules()
        self._checker = CitationChecker()
        self._abstain_below = abstain_below
        self._context_hits = context_hits

    async def answer(
        self, workspace: Workspace, question: Question, hits: list[SearchHit], asker: Asker
    ) -> Answer | None:
        hits = hits[: self._context_hits]
        tier = self._rules.tier(workspace.name, question.text)
        completion = await self._call(workspace, asker, prompt(question.text, hits), tier, "answer")
        if completion is None:
            return None
        draft = parse(completion.text)
        checked = self._checker.check(draft, hits)
        score = confidence(hits, checked)
        abstained = draft.answer.strip().upper().startswith(NOT_FOUND) or not checked.citations
        abstained = abstained or score < self._abstain_below
        return Answer(
            workspace=workspace.name,
            question=question.text,
            answer=f"I could not find this in the documents of {workspace.name}."
            if abstained
            else checked.answer,
            abstained=abstained,
            confidence=min(score, 0.2) if abstained else score,
            mode="llm",
            citations=[] if abstained else checked.citations,
            related_questions=self._related.grounded(draft.related, hits),
            model=f"{completion.provider}:{completion.model}",
            usage=Usage(
                input_tokens=completion.input_tokens,
                output_tokens=completion.output_tokens,
                cost_usd=round(completion.cost_usd, 8),
            ),
        )

    async def rewrite(
        self, workspace: Workspace, question: str, history: list[Turn], asker: Asker
    ) -> str | None:
        """A standalone question from the conversation, or None to use the heuristic."""
        messages: list[dict[str, str]] = [{"role": "system", "content": REWRITE_SYSTEM}]
        for turn in history[-3:]:
            messages += [
                {"role": "user", "content": turn.question},
                {"role": "assistant", "content": turn.answer[:500]},
            ]
        messages.append({"role": "user", "content": question})
        completion = await self._call(workspace, asker, messages, "cheap", "rewrite", max_tokens=80)  # type: ignore[arg-type]
        text = (
            completion.text.strip().splitlines()[0].strip() if completion and completion.text.strip() else ""
        )
        return text or None

    async def _call(
        self,
        workspace: Workspace,
        asker: Asker,
        messages: list[ChatCompletionMessageParam],
        tier: Tier,
        purpose: str,
        *,
        max_tokens: int = 700,
    ) -> Completion | None:
        if not self._router.configured or not await self._ledger.allows(workspace):
            return None
        try:
            completion = await self._router.complete(messages, tier=tier, max_tokens=max_tokens)
        except AllProvidersFailed as exc:
            log.warning("LLM unavailable, extractive fallback: %s", exc)
            return None
        await self._ledger.record(workspace, asker, completion, purpose)
        return completion
