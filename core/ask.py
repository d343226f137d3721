"""The one ask pipeline every entry point uses: retrieve within a workspace, answer, audit."""

from __future__ import annotations

import time
from typing import Protocol

from core.db import Sessions
from core.extractive import ExtractiveAnswerer
from core.models import Answer, Asker, Question, SearchHit
from core.retrieval import Access, Retriever
from core.tables import AnswerLog, Workspace

EXTRACTIVE_MODEL = "extractive"


def abstention(workspace: str) -> str:
    return f"I could not find this in the documents of {workspace}."


class Answerer(Protocol):
    """The seam for generated answers (LLM router). Returns None to fall back to the extractive answer."""

    async def answer(
        self, workspace: Workspace, question: Question, hits: list[SearchHit]
    ) -> Answer | None: ...


class AskService:
    def __init__(
        self,
        sessions: Sessions,
        retriever: Retriever,
        extractive: ExtractiveAnswerer,
        *,
        generator: Answerer | None = None,
        hits: int = 8,
    ) -> None:
        self._sessions = sessions
        self._retriever = retriever
        self._extractive = extractive
        self._generator = generator
        self._hits = hits

    async def ask(
        self, workspace: Workspace, question: Question, asker: Asker, access: Access | None = None
    ) -> Answer:
        started = time.perf_counter()
        hits = await self._retriever.search(
            workspace, question.text, question.filters, limit=self._hits, access=access
        )
        answer = None
        if self._generator is not None and hits:
            answer = await self._generator.answer(workspace, question, hits)
        if answer is None:
            answer = await self._extractive_answer(workspace, question, hits)
        answer.latency_ms = round((time.perf_counter() - started) * 1000.0, 2)
        await self._audit(workspace, question, asker, answer)
        return answer

    async def _extractive_answer(
        self, workspace: Workspace, question: Question, hits: list[SearchHit]
    ) -> Answer:
        extract = await self._extractive.extract(question.text, hits)
        return Answer(
            workspace=workspace.name,
            question=question.text,
            answer=abstention(workspace.name) if extract.abstained else extract.text,
            abstained=extract.abstained,
            confidence=round(extract.confidence, 4),
            mode="extractive",
            citations=extract.citations,
            model=EXTRACTIVE_MODEL,
        )

    async def _audit(self, workspace: Workspace, question: Question, asker: Asker, answer: Answer) -> None:
        async with self._sessions.begin() as session:
            session.add(
                AnswerLog(
                    workspace_id=workspace.id,
                    platform=asker.platform,
                    team_id=asker.team_id,
                    channel_id=asker.channel_id,
                    user_id=asker.user_id,
                    question=question.text,
                    answer=answer.answer,
                    abstained=answer.abstained,
                    confidence=answer.confidence,
                    mode=answer.mode,
                    document_ids=list(dict.fromkeys(c.document_id for c in answer.citations)),
                    latency_ms=answer.latency_ms,
                )
            )
