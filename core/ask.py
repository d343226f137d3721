"""The one ask pipeline every entry point uses: retrieve within a workspace, answer, audit."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select

from core import audit
from core.cache import QueryCache, cache_key
from core.db import Sessions
from core.embeddings import Vectors
from core.extractive import ExtractiveAnswerer
from core.memory import ConversationMemory, Turn, rewrite_heuristic
from core.models import Answer, Asker, Question, SearchHit
from core.related import RelatedQuestions
from core.retrieval import Access, Retriever
from core.tables import AnswerLog, Workspace

EXTRACTIVE_MODEL = "extractive"


def abstention(workspace: str) -> str:
    return f"I could not find this in the documents of {workspace}."


class Answerer(Protocol):
    """The seam for generated answers (LLM router). Returns None to fall back to the extractive answer."""

    async def answer(
        self, workspace: Workspace, question: Question, hits: list[SearchHit], asker: Asker
    ) -> Answer | None: ...


class Rewriter(Protocol):
    """Makes a follow-up standalone from the conversation (an LLM); None means use the heuristic."""

    async def rewrite(
        self, workspace: Workspace, question: str, history: list[Turn], asker: Asker
    ) -> str | None: ...


@dataclass(frozen=True, slots=True)
class AskParts:
    """The optional parts of the pipeline; each may be absent (no LLM, no Redis)."""

    generator: Answerer | None = None
    rewriter: Rewriter | None = None
    cache: QueryCache | None = None
    memory: ConversationMemory | None = None
    related: RelatedQuestions | None = None


def access_key(access: Access | None) -> str:
    return repr(access or Access())


def reused(answer: Answer, question: Question) -> Answer:
    """An answer computed for an earlier ask of the same question: nothing was spent on this one."""
    answer.question = question.text
    answer.usage.input_tokens = answer.usage.output_tokens = 0
    answer.usage.cost_usd = 0.0
    return answer


class AskService:
    def __init__(
        self,
        sessions: Sessions,
        retriever: Retriever,
        extractive: ExtractiveAnswerer,
        *,
        generator: Answerer | None = None,
        parts: AskParts | None = None,
        hits: int = 8,
    ) -> None:
        self._sessions = sessions
        self._retriever = retriever
        self._extractive = extractive
        self.parts = parts or AskParts(generator=generator)
        self._hits = hits
        # cache misses being answered now, by cache key: the same question asked again meanwhile waits
        # for that answer instead of computing it again (no stampede when a popular question is cold)
        self._inflight: dict[str, asyncio.Future[Answer]] = {}

    async def ask(
        self, workspace: Workspace, question: Question, asker: Asker, access: Access | None = None
    ) -> Answer:
        started = time.perf_counter()
        history = await self._history(workspace, question)
        standalone = await self._standalone(workspace, question, history, asker)
        answer = await self._cached_or_fresh(workspace, question, standalone, asker, access)
        answer.latency_ms = round((time.perf_counter() - started) * 1000.0, 2)
        await self._remember(workspace, question, standalone, answer)
        await self._audit(workspace, question, asker, answer)
        return answer

    async def _cached_or_fresh(
        self, workspace: Workspace, question: Question, standalone: str, asker: Asker, access: Access | None
    ) -> Answer:
        cache = self.parts.cache
        if cache is None:
            return await self._fresh(workspace, question, standalone, asker, access)
        version = await self._index_version(workspace)
        key = cache_key(workspace, version, standalone, question.filters, access_key(access))
        cached = await cache.get(key)
        if cached is not None:
            return reused(cached, question)
        running = self._inflight.get(key)
        if running is not None:
            return reused((await asyncio.shield(running)).model_copy(deep=True), question)
        task = asyncio.ensure_future(
            self._fresh_and_cached(key, workspace, question, standalone, asker, access)
        )
        self._inflight[key] = task
        task.add_done_callback(lambda done: self._settled(key, done))
        return (await asyncio.shield(task)).model_copy(deep=True)

    def _settled(self, key: str, done: asyncio.Future[Answer]) -> None:
        self._inflight.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved here too: every waiter may have gone away (client disconnects)

    async def _fresh_and_cached(
        self,
        key: str,
        workspace: Workspace,
        question: Question,
        standalone: str,
        asker: Asker,
        access: Access | None,
    ) -> Answer:
        assert self.parts.cache is not None
        answer = await self._fresh(workspace, question, standalone, asker, access)
        await self.parts.cache.put(key, answer)
        return answer

    async def _fresh(
        self, workspace: Workspace, question: Question, standalone: str, asker: Asker, access: Access | None
    ) -> Answer:
        vector = await self._retriever.embed_query(standalone)  # for retrieval, then the extract
        hits = await self._retriever.search(
            workspace, standalone, question.filters, limit=self._hits, access=access, query_vector=vector
        )
        searched = question.model_copy(update={"text": standalone})
        answer = None
        if self.parts.generator is not None and hits:
            answer = await self.parts.generator.answer(workspace, searched, hits, asker)
        if answer is None:
            answer = await self._extractive_answer(workspace, searched, hits, vector)
        answer.question = question.text
        if not answer.related_questions and self.parts.related is not None:
            answer.related_questions = self.parts.related.suggest(standalone, hits)
        return answer

    async def _index_version(self, workspace: Workspace) -> int:
        """Read fresh: the caller's Workspace row may predate the last re-index."""
        async with self._sessions() as session:
            version = await session.scalar(
                select(Workspace.index_version).where(Workspace.id == workspace.id)
            )
        return int(version or 0)

    async def _history(self, workspace: Workspace, question: Question) -> list[Turn]:
        if self.parts.memory is None or not question.conversation_id:
            return []
        return await self.parts.memory.history(workspace, question.conversation_id)

    async def _standalone(
        self, workspace: Workspace, question: Question, history: list[Turn], asker: Asker
    ) -> str:
        if not history:
            return question.text
        if self.parts.rewriter is not None:
            rewritten = await self.parts.rewriter.rewrite(workspace, question.text, history, asker)
            if rewritten:
                return rewritten
        return rewrite_heuristic(question.text, history)

    async def _remember(
        self, workspace: Workspace, question: Question, standalone: str, answer: Answer
    ) -> None:
        if self.parts.memory is None or not question.conversation_id:
            return
        turn = Turn(question.text, standalone, answer.answer)
        await self.parts.memory.record(workspace, question.conversation_id, turn)

    async def _extractive_answer(
        self, workspace: Workspace, question: Question, hits: list[SearchHit], vector: Vectors
    ) -> Answer:
        extract = await self._extractive.extract(question.text, hits, vector, scope=workspace.uid)
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
            audit.append(session, answered(workspace, question, asker, answer))


def answered(workspace: Workspace, question: Question, asker: Asker, answer: Answer) -> audit.Entry:
    """The audit entry of one answer: who asked what, from where, and the documents it used."""
    where = "/".join(part for part in (asker.team_id, asker.channel_id) if part) or None
    return audit.Entry(
        actor=audit.asker_actor(asker.platform, asker.user_id),
        action="ask",
        workspace=workspace.name,
        target=question.text,
        channel=f"{asker.platform}:{where}" if where else asker.platform,
        detail={"abstained": answer.abstained, "mode": answer.mode},
        document_ids=list(dict.fromkeys(c.document_id for c in answer.citations)),
    )
