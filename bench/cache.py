"""Query-cache benchmark: the latency of a cached answer next to the uncached one, and their ratio.

    .venv/bin/python -m bench.cache [--docs 300] [--queries 40] [--redis-url redis://127.0.0.1:6379/12]

Ingests ``--docs`` NFCorpus documents into a fresh data dir, then asks each of ``--queries`` queries
twice through ``AskService.ask`` (the path every entry point uses, offline extractive answers): the first
ask is a miss (retrieve + answer + store), the second a hit. Without ``--redis-url`` a private Valkey runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.ingest import DEFAULT_DATASET, load
from core import workspaces
from core.embeddings import MiniLMEmbedder
from core.indexing import ingest_all
from core.models import Asker, Question
from hub.container import open_services
from hub.logging import configure_logging
from hub.migrate import upgrade
from hub.runtime import EmbeddedValkey
from hub.settings import Settings


def queries(dataset: Path, limit: int) -> list[str]:
    with (dataset / "queries.jsonl").open() as handle:
        return [json.loads(line)["text"] for line in handle][:limit]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(args: argparse.Namespace, data_dir: Path, redis_url: str) -> dict[str, float]:
    settings = Settings(data_dir=data_dir, redis_url=redis_url)
    async with open_services(settings, embedder=MiniLMEmbedder()) as services:
        await upgrade(services.engine)
        assert services.redis is not None
        await services.redis.flushdb()
        async with services.sessions.begin() as session:
            workspace = await workspaces.create(session, "bench")
        await ingest_all(services.indexer, workspace, load(args.dataset, args.docs))
        asker = Asker(platform="cli")
        timings: dict[str, list[float]] = {"miss": [], "hit": []}
        for text in queries(args.dataset, args.queries):
            for kind in ("miss", "hit"):
                started = time.perf_counter()
                await services.asker.ask(workspace, Question(text=text[:2000]), asker)
                timings[kind].append((time.perf_counter() - started) * 1000.0)
        assert services.cache is not None
        assert services.cache.stats.hits == args.queries
    miss, hit = timings["miss"], timings["hit"]
    return {
        "queries": args.queries,
        "uncached_ms_p50": round(statistics.median(miss), 2),
        "uncached_ms_p95": round(percentile(miss, 0.95), 2),
        "cached_ms_p50": round(statistics.median(hit), 2),
        "cached_ms_p95": round(percentile(hit, 0.95), 2),
        "speedup_p50": round(statistics.median(miss) / statistics.median(hit), 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    configure_logging(Settings(log_level="warning"))  # not a debug line per indexed document
    with tempfile.TemporaryDirectory() as tmp:
        valkey = None if args.redis_url else EmbeddedValkey(Path(tmp) / "valkey")
        url = args.redis_url or (valkey.start() if valkey else "")
        try:
            result = await run(args, Path(tmp) / "var", url)
        finally:
            if valkey is not None:
                valkey.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
