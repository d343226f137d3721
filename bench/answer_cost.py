"""The cost of one uncached extractive answer: wall time and this process's CPU per ask, on the demo corpus.

    .venv/bin/python -m bench.answer_cost [--database-url postgresql+asyncpg://...] [--threads 1]

The query cache is off, so every ask retrieves and extracts. The first pass asks the 20 questions of
``bench.scaleout`` once (their candidate sentences are new to the process); the warm pass asks them twice
more (sentence vectors remembered). One onnxruntime thread by default, as in a web process whose chat
answers go to workers. Without ``--database-url`` the metadata DB is SQLite in a temporary folder; a
PostgreSQL database given here must be empty (it is migrated).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.scaleout import CORPUS, QUESTIONS, corpus_files
from bench.slack_ack import machine
from core import workspaces
from core.embeddings import MiniLMEmbedder
from core.indexing import IncomingDocument, ingest_all
from core.models import Asker, Question
from hub.container import Services, open_services
from hub.logging import configure_logging
from hub.migrate import upgrade
from hub.settings import CacheSettings, Settings


async def per_ask(services: Services, workspace_name: str, questions: list[str]) -> tuple[float, float]:
    """Mean wall and CPU milliseconds per ask."""
    async with services.sessions() as session:
        workspace = await workspaces.get(session, workspace_name)
    asker = Asker(platform="cli")
    wall, cpu = time.perf_counter(), time.process_time()
    for text in questions:
        await services.asker.ask(workspace, Question(text=text), asker)
    n = len(questions)
    return 1000 * (time.perf_counter() - wall) / n, 1000 * (time.process_time() - cpu) / n


async def run(args: argparse.Namespace, data_dir: Path) -> None:
    settings = Settings(
        data_dir=data_dir,
        database_url=args.database_url,
        redis_url=None,
        cache=CacheSettings(enabled=False),
    )
    embedder = MiniLMEmbedder(threads=args.threads)
    async with open_services(settings, embedder=embedder, with_redis=False) as services:
        await upgrade(services.engine)
        async with services.sessions.begin() as session:
            workspace = await workspaces.create(session, "bench")
        docs = [
            IncomingDocument(name, data, doc_type=name.rsplit(".", 1)[-1])
            for name, data in corpus_files(CORPUS)
        ]
        await ingest_all(services.indexer, workspace, docs)
        await per_ask(services, "bench", ["warm-up: connections and model"])
        print(machine())
        for label, questions in (("first pass", QUESTIONS), ("warm", QUESTIONS * 2)):
            wall, cpu = await per_ask(services, "bench", questions)
            print(f"{label:>10}: {wall:6.1f} ms wall, {cpu:6.1f} ms CPU of this process per ask")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    configure_logging(Settings(log_level="warning"))  # not a debug line per indexed document
    with tempfile.TemporaryDirectory(prefix="sb-answer-cost-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
