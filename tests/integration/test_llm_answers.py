"""The LLM path end to end through AskService: the real ``openai`` client against loopback fakes that
replay the recorded OpenAI payloads, with scripted 429 / 500 / hung providers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from core import workspaces
from core.embeddings import MiniLMEmbedder
from core.events import BudgetExceeded
from core.indexing import IncomingDocument, ingest_all
from core.models import Answer, Asker, Question
from core.tables import Document, LLMCall, Workspace
from hub.container import Services, open_services
from hub.migrate import upgrade
from hub.settings import LLMProvider, LLMSettings, Settings
from tests.fakes.openai import FakeOpenAI, running

TRAVEL = (
    b"# Travel policy\n\n## Hotels\n\nThe hotel limit in London is 250 GBP per night. "
    b"Contractors book hotels through their agency.\n\n## Trains\n\nBook trains at least a week ahead."
)
QUOTE = "The hotel limit in London is 250 GBP per night."
GOOD = (
    f'The London hotel limit is 250 GBP per night [1].\nQUOTES:\n[1] "{QUOTE}"\n'
    "RELATED:\nHow do contractors book hotels?\nWhen should trains be booked?\nWhat is the weather?"
)
ASKER = Asker(platform="slack", team_id="T1", channel_id="C1", user_id="U1")


@dataclass
class World:
    services: Services
    workspace: Workspace
    fakes: list[FakeOpenAI]

    async def ask(self, text: str = "What is the hotel limit in London?") -> Answer:
        return await self.services.asker.ask(self.workspace, Question(text=text), ASKER)

    async def check_offsets(self, answer: Answer) -> None:
        """Every quote is the exact [start, end) text of its document (the parsed text, not the bytes)."""
        async with self.services.sessions() as session:
            for citation in answer.citations:
                text = await session.scalar(
                    select(Document.text).where(Document.external_id == citation.document_id)
                )
                assert text is not None and text[citation.start : citation.end] == citation.quote

    async def calls(self) -> list[tuple[str, float]]:
        async with self.services.sessions() as session:
            rows = await session.execute(select(LLMCall.provider, LLMCall.cost_usd).order_by(LLMCall.id))
            return [(p, c) for p, c in rows]


WorldFactory = Callable[..., Any]


@pytest.fixture
async def make_world(settings: Settings, embedder: MiniLMEmbedder) -> AsyncIterator[WorldFactory]:
    async with AsyncExitStack() as stack:

        async def build(*fakes: FakeOpenAI, timeout_s: float = 5.0, **llm: Any) -> World:
            providers = []
            for n, fake in enumerate(fakes):
                url = await stack.enter_async_context(running(fake))
                providers.append(
                    LLMProvider(
                        name=f"p{n}",
                        base_url=url,
                        api_key=SecretStr("sk-test"),
                        model=f"model-{n}",
                        input_usd_per_mtok=1.0 + n,
                        output_usd_per_mtok=2.0 + n,
                        timeout_s=timeout_s,
                    )
                )
            configured = settings.model_copy(update={"llm": LLMSettings(providers=providers, **llm)})
            services = await stack.enter_async_context(
                open_services(configured, embedder=embedder, with_redis=False)
            )
            await upgrade(services.engine)
            async with services.sessions.begin() as session:
                workspace = await workspaces.create(session, "alpha")
            await ingest_all(
                services.indexer, workspace, [IncomingDocument("travel.md", TRAVEL, "travel.md")]
            )
            return World(services, workspace, list(fakes))

        yield build


def assert_grounded(answer: Answer, provider: str) -> None:
    assert answer.mode == "llm" and not answer.abstained
    assert answer.model.startswith(f"{provider}:")
    citation = answer.citations[0]
    assert citation.quote == QUOTE and citation.document_id == "travel.md"
    assert answer.usage.cost_usd > 0 and answer.usage.input_tokens > 0


async def test_streamed_answer_is_grounded_and_costed(make_world: WorldFactory) -> None:
    world = await make_world(FakeOpenAI(answer=GOOD))
    answer = await world.ask()
    assert_grounded(answer, "p0")
    await world.check_offsets(answer)
    assert world.fakes[0].requests[0]["stream"] is True
    assert "How do contractors book hotels?" in answer.related_questions
    assert "What is the weather?" not in answer.related_questions  # not grounded in the sources
    assert await world.calls() == [("p0", pytest.approx(answer.usage.cost_usd))]


async def test_non_streamed_provider(make_world: WorldFactory) -> None:
    world = await make_world(FakeOpenAI(answer=GOOD))
    for provider in world.services.router.providers:
        object.__setattr__(provider.config, "stream", False)
    answer = await world.ask()
    assert_grounded(answer, "p0")
    assert "stream" not in world.fakes[0].requests[0]


async def test_429_fails_over_and_honours_retry_after(make_world: WorldFactory) -> None:
    first = FakeOpenAI(answer=GOOD, script=["429"], retry_after_s=1.0)
    world = await make_world(first, FakeOpenAI(answer=GOOD))
    assert_grounded(await world.ask(), "p1")
    assert_grounded(await world.ask("How much is a London hotel per night?"), "p1")
    assert len(first.requests) == 1  # skipped while its Retry-After runs
    await asyncio.sleep(1.1)
    assert_grounded(await world.ask("London hotel limit per night?"), "p0")
    providers = [p for p, _ in await world.calls()]
    assert providers == ["p1", "p1", "p0"]  # charged to whoever served


async def test_500_fails_over(make_world: WorldFactory) -> None:
    world = await make_world(FakeOpenAI(answer=GOOD, script=["500"]), FakeOpenAI(answer=GOOD))
    assert_grounded(await world.ask(), "p1")
    assert [p for p, _ in await world.calls()] == ["p1"]


async def test_hung_provider_times_out_then_breaker_recovers(make_world: WorldFactory) -> None:
    hung = FakeOpenAI(answer=GOOD, script=["hang"])
    world = await make_world(
        hung, FakeOpenAI(answer=GOOD), timeout_s=0.5, breaker_failures=1, breaker_cool_down_s=1.0
    )
    started = time.perf_counter()
    assert_grounded(await world.ask(), "p1")
    assert time.perf_counter() - started < 5
    assert world.services.router.providers[0].breaker.state == "open"
    assert_grounded(await world.ask("How much is a London hotel per night?"), "p1")
    assert len(hung.requests) == 1
    await asyncio.sleep(1.1)
    assert_grounded(await world.ask("London hotel limit per night?"), "p0")  # half-open try succeeds
    assert world.services.router.providers[0].breaker.state == "closed"


async def test_every_provider_failing_falls_back_to_extractive(make_world: WorldFactory) -> None:
    world = await make_world(FakeOpenAI(script=["500"]), FakeOpenAI(script=["429"]))
    answer = await world.ask()
    assert answer.mode == "extractive" and answer.model == "extractive"
    assert "250 GBP" in answer.answer and answer.usage.cost_usd == 0
    assert len(answer.related_questions) == 3
    assert await world.calls() == []


async def test_no_provider_is_extractive(make_world: WorldFactory) -> None:
    world = await make_world()
    answer = await world.ask()
    assert answer.mode == "extractive" and answer.related_questions


async def test_invented_quote_is_dropped_and_low_support_abstains(make_world: WorldFactory) -> None:
    invented = 'Hotels cost 900 GBP [1].\nQUOTES:\n[1] "Hotels cost 900 GBP a night."'
    world = await make_world(FakeOpenAI(answer=invented))
    answer = await world.ask()
    assert answer.mode == "llm" and answer.abstained and answer.citations == []
    assert "could not find" in answer.answer


async def test_budget_exhausted_falls_back_and_tells_admins_once(make_world: WorldFactory) -> None:
    world = await make_world(FakeOpenAI(answer=GOOD))
    await world.services.ledger.set_budget(world.workspace, 0.0000001)
    assert (await world.ask()).mode == "llm"  # under budget before this call
    second = await world.ask("How much is a London hotel per night?")
    third = await world.ask("London hotel limit per night?")
    assert second.mode == third.mode == "extractive"
    events = [e for e in world.services.events.events if isinstance(e, BudgetExceeded)]
    assert len(events) == 1 and events[0].workspace == "alpha"
    assert len(world.fakes[0].requests) == 1


async def test_model_selection_prefers_the_cheap_tier_for_short_questions(make_world: WorldFactory) -> None:
    world = await make_world(FakeOpenAI(answer=GOOD), FakeOpenAI(answer=GOOD))
    object.__setattr__(world.services.router.providers[1].config, "tier", "cheap")
    assert (await world.ask()).model.startswith("p1:model-1")
    long_question = (
        "Can you explain the hotel limit in London and compare it with how contractors book hotels "
        "and when trains should be booked?"
    )
    assert (await world.ask(long_question)).model.startswith("p0:model-0")
