"""Connector sync benchmark: documents/s through the one sync loop from a large fake Confluence space,
next to the raw embedding throughput of the same passages, in the same run.

    nice -n 10 .venv/bin/python -m bench.sync [--pages 1000] [--page-size 50]

Sync = the real atlassian-python-api client paging CQL results from the loopback fake (tests/fakes),
HTML parse, chunk, embed, SQLite rows + BM25 postings + Chroma vectors, a cursor save per page, and the
final sweep. Raw = ``embedder.embed`` on exactly the passages that sync indexed.
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
from core.indexing import IncomingDocument
from core.jobs import ItemResult
from hub import sources
from hub.container import Services, open_services
from hub.logging import configure_logging
from hub.migrate import upgrade
from hub.settings import ConnectorSettings, Settings
from tests.fakes.confluence import FakeConfluence, fake_confluence

VOCABULARY = (
    "deploy rollback incident pager owner runbook queue latency budget review access token cache shard"
    " replica failover backup restore audit policy onboarding laptop vpn certificate rotation alert"
)
WORDS = VOCABULARY.split()


def body(i: int) -> str:
    sentences = [
        " ".join(WORDS[(i * 7 + j * 3 + k) % len(WORDS)] for k in range(12)).capitalize() + "."
        for j in range(10)
    ]
    first, rest = " ".join(sentences[:5]), " ".join(sentences[5:])
    return f"<h2>Service {i}</h2><p>{first}</p><h3>Details</h3><p>{rest}</p>"


async def run_sync(services: Services, wiki: FakeConfluence, page_size: int) -> tuple[float, int, int]:
    async with services.sessions.begin() as session:
        workspace = await workspaces.create(session, "bench")
    config = {"url": wiki.base_url, "space": wiki.space, "page_size": page_size}
    secret = {"username": "bench@example.com", "password": "x"}
    source = await sources.add(
        services, workspace, source_type="confluence", name="s", config=config, secret=secret
    )
    done: list[ItemResult] = []

    async def report(results: list[ItemResult]) -> None:
        done.extend(results)

    started = time.perf_counter()
    await services.ports.syncers["confluence"](await sources.get(services, workspace, source.id), report)
    elapsed = time.perf_counter() - started
    return elapsed, sum(r.status == "created" for r in done), len(wiki.searches)


def passages_of(services: Services, wiki: FakeConfluence) -> list[str]:
    """The passages sync embedded: each page prepared exactly as the connector hands it to ingest."""
    out: list[str] = []
    for page in wiki.pages.values():
        html = f"<html><head><title>{page.title}</title></head><body>{page.body}</body></html>"
        incoming = IncomingDocument(page.id, html.encode(), title=page.title, doc_type="html")
        out += services.indexer.prepare(incoming).passages
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--page-size", type=int, default=50)
    args = parser.parse_args()
    configure_logging(Settings(log_level="warning"))  # not a debug line per indexed document
    embedder = MiniLMEmbedder()
    embedder.embed(["warm up"] * 8)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp), connectors=ConnectorSettings(allow_private_urls=True), redis_url=None
        )
        async with (
            fake_confluence() as wiki,
            open_services(settings, embedder=embedder, with_redis=False) as services,
        ):
            for i in range(args.pages):
                wiki.add(f"{i:05d}", f"Service {i} runbook", body(i), minute=i)
            await upgrade(services.engine)
            sync_s, created, requests = await run_sync(services, wiki, args.page_size)
            passages = passages_of(services, wiki)
    started = time.perf_counter()
    embedder.embed(passages)
    raw_s = time.perf_counter() - started
    result = {
        "pages": args.pages,
        "documents_created": created,
        "search_requests": requests,
        "passages": len(passages),
        "sync_s": round(sync_s, 2),
        "sync_docs_per_s": round(created / sync_s, 2),
        "raw_embed_s": round(raw_s, 2),
        "raw_passages_per_s": round(len(passages) / raw_s, 2),
        "sync_vs_raw": round(raw_s / sync_s, 3),
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
