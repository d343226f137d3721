"""The composition root's wiring: build every core service from Settings, and close them all."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import MultiFernet
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from core.analysis import Analyzer
from core.ask import AskParts, AskService
from core.cache import QueryCache, SharedVectors
from core.costs import CostLedger
from core.db import Reads, Sessions, make_engine, make_reads, make_sessions
from core.embeddings import Embedder, MiniLMEmbedder, OpenAIEmbedder
from core.extractive import ExtractiveAnswerer
from core.generation import GroundedAnswerer
from core.indexing import Indexer, Parser
from core.ingest.parse import parse
from core.jobs import JobPorts
from core.llm import LLMRouter, ProviderConfig
from core.memory import ConversationMemory
from core.ratelimit import RateLimiter
from core.related import RelatedQuestions
from core.retrieval import RetrievalConfig, Retriever
from core.selection import SelectionRules
from core.suggest import Suggester
from core.vectors import VectorIndex, connect
from hub.events import LoggingEventBus
from hub.keys import fernet
from hub.metrics import Metrics
from hub.runtime import read_runtime, store_lock
from hub.sandbox import ParseSandbox
from hub.settings import Settings
from hub.source_sync import register as register_connectors


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: Sessions
    reads: Reads  # the short reads on the request path
    embedder: Embedder
    vectors: VectorIndex
    indexer: Indexer
    retriever: Retriever
    asker: AskService
    redis: Redis | None
    fernet: MultiFernet
    router: LLMRouter
    ledger: CostLedger
    events: LoggingEventBus
    cache: QueryCache | None
    suggester: Suggester
    metrics: Metrics
    ports: JobPorts = field(default_factory=JobPorts)  # what connectors/webhooks register for jobs
    # the shared limiter (its script registered once), when there is a Redis to count in
    limiter: RateLimiter | None = None


def build_embedder(settings: Settings) -> Embedder:
    cfg = settings.embedding
    if cfg.provider == "openai":
        if not cfg.base_url:
            raise ValueError("SWITCHBOARD_EMBEDDING__BASE_URL is required for the openai embedding provider")
        return OpenAIEmbedder(
            base_url=cfg.base_url, api_key=cfg.api_key.get_secret_value(), model=cfg.model, dim=cfg.dim
        )
    return MiniLMEmbedder(threads=cfg.threads)


def effective_urls(settings: Settings) -> Settings:
    """Fill unset Redis/Chroma URLs from a live ``serve`` on the same data dir, if any."""
    running = read_runtime(settings.data_dir)
    keys: tuple[str, ...] = ("redis_url", "chroma_url")
    updates: dict[str, Any] = {k: running[k] for k in keys if not getattr(settings, k) and k in running}
    return settings.model_copy(update=updates) if updates else settings


@contextlib.asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    with_redis: bool = True,
    metrics: Metrics | None = None,
    sandboxed: bool = False,
) -> AsyncIterator[Services]:
    """Open DB, index and (optionally) Redis; close them all on exit.

    ``sandboxed`` (the worker) parses documents in killable child processes with a timeout.
    """
    settings = effective_urls(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with contextlib.AsyncExitStack() as stack:
        if not settings.chroma_url:
            stack.enter_context(store_lock(settings.data_dir))
        engine = make_engine(settings.resolved_database_url())
        stack.push_async_callback(engine.dispose)
        redis = None
        if with_redis and settings.redis_url:
            redis = Redis.from_url(settings.redis_url)
            stack.push_async_callback(redis.aclose)
        parser: Parser = parse
        if sandboxed:
            sandbox = ParseSandbox(
                timeout_s=settings.ingest.parse_timeout_s, memory_mb=settings.ingest.parse_memory_mb
            )
            stack.callback(sandbox.close)
            parser = sandbox
        services = assemble(
            settings, engine, embedder or build_embedder(settings), redis, metrics or Metrics(), parser
        )
        stack.push_async_callback(services.router.close)
        stack.push_async_callback(services.reads.close)
        yield services


def build_router(settings: Settings) -> LLMRouter:
    cfg = settings.llm
    providers = [
        ProviderConfig(
            name=p.name,
            base_url=p.base_url,
            api_key=p.api_key.get_secret_value(),
            model=p.model,
            input_usd_per_mtok=p.input_usd_per_mtok,
            output_usd_per_mtok=p.output_usd_per_mtok,
            timeout_s=p.timeout_s,
            tier=p.tier,
            stream=p.stream,
        )
        for p in cfg.providers
    ]
    return LLMRouter(providers, failures_to_open=cfg.breaker_failures, cool_down_s=cfg.breaker_cool_down_s)


def assemble(
    settings: Settings,
    engine: AsyncEngine,
    embedder: Embedder,
    redis: Redis | None,
    metrics: Metrics,
    parser: Parser = parse,
) -> Services:
    sessions = make_sessions(engine)
    reads = make_reads(engine, sessions)
    vectors = VectorIndex(connect(chroma_url=settings.chroma_url, path=settings.chroma_path), embedder)
    events = LoggingEventBus()
    analyzer = Analyzer()
    r = settings.retrieval
    retriever = Retriever(
        sessions,
        vectors,
        embedder,
        analyzer,
        RetrievalConfig(
            mode=r.mode,
            fusion=r.fusion,
            keyword_weight=r.keyword_weight,
            vector_weight=r.vector_weight,
            keyword_in_memory=r.keyword_in_memory,
        ),
        reads=reads,
    )
    indexer = Indexer(
        sessions,
        vectors,
        embedder,
        analyzer,
        max_pdf_pages=settings.ingest.max_pdf_pages,
        chunk_tokens=r.chunk_tokens,
        overlap_tokens=r.overlap_tokens,
        parser=parser,
        events=events,
    )
    router = build_router(settings)
    ledger = CostLedger(
        sessions,
        events,
        default_monthly_usd=settings.llm.monthly_budget_usd,
        on_record=lambda c: metrics.record_llm(
            c.provider,
            c.model,
            input_tokens=c.input_tokens,
            output_tokens=c.output_tokens,
            cost_usd=c.cost_usd,
        ),
    )
    related = RelatedQuestions(analyzer)
    cache = (
        QueryCache(
            redis, ttl_s=settings.cache.ttl_s, on_lookup=lambda hit: metrics.record_cache("query", hit)
        )
        if redis is not None and settings.cache.enabled
        else None
    )
    parts = AskParts(cache=cache, memory=ConversationMemory(sessions), related=related)
    if router.configured:
        rules = SelectionRules(settings.llm.short_question_words, dict(settings.llm.workspace_tiers))
        llm = GroundedAnswerer(router, ledger, related, rules=rules, abstain_below=settings.llm.abstain_below)
        parts = dataclasses.replace(parts, generator=llm, rewriter=llm)
    shared = (
        SharedVectors(
            redis,
            embedder.name,
            embedder.dim,
            ttl_s=settings.cache.sentence_vectors_ttl_s,
            on_lookup=lambda hit: metrics.record_cache("sentence_vectors", hit),
        )
        if redis is not None and settings.cache.sentence_vectors_ttl_s > 0
        else None
    )
    extractive = ExtractiveAnswerer(embedder, analyzer, shared=shared)
    asker = AskService(sessions, retriever, extractive, parts=parts)
    services = Services(
        settings,
        engine,
        sessions,
        reads,
        embedder,
        vectors,
        indexer,
        retriever,
        asker,
        redis,
        fernet(settings),
        router,
        ledger,
        events,
        cache,
        Suggester(sessions),
        metrics,
        limiter=RateLimiter(redis) if redis is not None else None,
    )
    register_connectors(services)
    return services
