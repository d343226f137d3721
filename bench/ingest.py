"""Ingest benchmark: raw embedding throughput of the model next to end-to-end ingest throughput, same run.

    .venv/bin/python -m bench.ingest [--docs 400] [--dataset ../shared/data/nfcorpus]

End-to-end = parse, chunk, embed, write SQLite rows + BM25 postings + Chroma vectors, through the same
``ingest_all`` the CLI and worker use, on a fresh data dir. Raw = ``embedder.embed`` on exactly the
passages that ingest produced. The target is e2e / raw >= 0.8 (embedding is the bottleneck).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from core import workspaces
from core.embeddings import MiniLMEmbedder
from core.indexing import IncomingDocument, ingest_all
from hub.container import open_services
from hub.logging import configure_logging
from hub.migrate import upgrade
from hub.settings import Settings

DEFAULT_DATASET = Path(__file__).resolve().parents[2] / "shared" / "data" / "nfcorpus"


def load(dataset: Path, limit: int) -> list[IncomingDocument]:
    docs = []
    with (dataset / "corpus.jsonl").open() as handle:
        for line in handle:
            row = json.loads(line)
            docs.append(
                IncomingDocument(
                    str(row["_id"]), str(row["text"]).encode(), title=row.get("title") or None, doc_type="txt"
                )
            )
            if len(docs) >= limit:
                break
    return docs


async def end_to_end(
    docs: list[IncomingDocument], data_dir: Path, embedder: MiniLMEmbedder
) -> tuple[float, int, list[str]]:
    """Seconds and chunks for a full ingest, and the exact passages it embedded."""
    settings = Settings(data_dir=data_dir, database_url=None, redis_url=None, chroma_url=None)
    async with open_services(settings, embedder=embedder, with_redis=False) as services:
        await upgrade(services.engine)
        async with services.sessions.begin() as session:
            workspace = await workspaces.create(session, "bench")
        started = time.perf_counter()
        results = await ingest_all(services.indexer, workspace, docs, batch_size=64)
        elapsed = time.perf_counter() - started
        passages = [p for doc in docs for p in services.indexer.prepare(doc).passages]
    return elapsed, sum(r.chunks for r in results), passages


def raw(embedder: MiniLMEmbedder, passages: list[str]) -> float:
    started = time.perf_counter()
    embedder.embed(passages)
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    args = parser.parse_args()
    configure_logging(Settings(log_level="warning"))  # not a debug line per indexed document
    embedder = MiniLMEmbedder()
    embedder.embed(["warm up"] * 8)
    docs = load(args.dataset, args.docs)
    with tempfile.TemporaryDirectory() as tmp:
        e2e_s, chunks, passages = await end_to_end(docs, Path(tmp), embedder)
    raw_s = raw(embedder, passages)
    raw_rate, e2e_rate = len(passages) / raw_s, chunks / e2e_s
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"documents: {len(docs)}  chunks: {chunks}")
    print(f"raw embedding:      {raw_rate:8.1f} passages/s  ({raw_s:.1f} s)")
    print(f"end-to-end ingest:  {e2e_rate:8.1f} chunks/s    ({e2e_s:.1f} s, {len(docs) / e2e_s:.1f} docs/s)")
    print(f"ratio e2e/raw:      {e2e_rate / raw_rate:8.2f}   (target >= 0.8)")


if __name__ == "__main__":
    asyncio.run(main())
