"""Latency benchmark: HTTP search p95 at 50k chunks next to in-process query-embedding p95, same run.

    .venv/bin/python -m bench.latency [--chunks 50000] [--queries 300] [--cache bench/.cache/latency]

The index (one chunk per synthetic document: four sentences drawn with a fixed seed from the SQuAD and
NFCorpus texts in ../shared/data) is built once through the normal ingest path and reused from the cache
dir: embedding 50k chunks takes most of an hour on 2 cores. Then `switchboard serve` runs on that data
dir (embedded Valkey + Chroma server, as users run it); once it and its worker have finished their
start-up work (their CPU use falls idle), the queries go over real HTTP, one at a time.
Target: HTTP search p95 / query-embedding p95 <= 3.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from core import apikeys, workspaces
from core.embeddings import MiniLMEmbedder
from core.evaluation import percentile
from core.indexing import IncomingDocument, IngestResult, ingest_all
from core.keyword_memory import MemoryKeywords
from core.retrieval import Access, RetrievalConfig
from hub.container import open_services
from hub.logging import configure_logging
from hub.migrate import upgrade
from hub.runtime import free_port, wait_http
from hub.settings import Settings

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SENTENCE = re.compile(r"(?<=[.!?])\s+")


def sentence_pool() -> list[str]:
    pool: list[str] = []
    for name in ("squad-dev", "nfcorpus"):
        with (DATA / name / "corpus.jsonl").open() as handle:
            for line in handle:
                text = json.loads(line)["text"]
                pool.extend(s for s in SENTENCE.split(text) if 5 <= len(s.split()) <= 60)
    return pool


def synthetic_documents(n: int) -> list[IncomingDocument]:
    rng = random.Random(0)
    pool = sentence_pool()
    return [
        IncomingDocument(
            f"syn-{i}", " ".join(rng.sample(pool, 4)).encode(), doc_type="txt", collection="bench"
        )
        for i in range(n)
    ]


def queries(n: int) -> list[str]:
    with (DATA / "squad-dev" / "queries.jsonl").open() as handle:
        texts = [json.loads(line)["text"] for line in handle]
    return random.Random(1).sample(texts, n)


async def build(cache: Path, n: int, embedder: MiniLMEmbedder) -> str:
    """Ingest (or top up) the synthetic corpus; returns a fresh API key for the workspace."""
    settings = Settings(data_dir=cache, database_url=None, redis_url=None, chroma_url=None)
    async with open_services(settings, embedder=embedder, with_redis=False) as services:
        await upgrade(services.engine)
        async with services.sessions.begin() as session:
            workspace = await workspaces.get_or_create(session, "bench")
        docs = synthetic_documents(n)
        started, done = time.perf_counter(), 0

        def report(batch: list[IngestResult]) -> None:
            nonlocal done
            done += len(batch)
            if done % 2048 < len(batch):
                rate = done / (time.perf_counter() - started)
                print(f"  indexed {done}/{n} ({rate:.0f}/s)", file=sys.stderr, flush=True)

        await ingest_all(services.indexer, workspace, docs, batch_size=256, on_progress=report)
        async with services.sessions.begin() as session:
            _, key = await apikeys.create(session, workspace, "viewer", "latency bench")
    return key


def embedding_p95(embedder: MiniLMEmbedder, texts: list[str]) -> float:
    timings = []
    for text in texts:
        started = time.perf_counter()
        embedder.embed([text])
        timings.append((time.perf_counter() - started) * 1000.0)
    return percentile(timings, 95)


async def in_process(
    cache: Path, embedder: MiniLMEmbedder, texts: list[str]
) -> tuple[float, dict[str, tuple[float, float]]]:
    """Seconds to load the keyword index into memory, and search p50/p95 in one process on the same data:
    for every asker, for public pages only (what REST and chat use), and with BM25 scored in SQL."""
    settings = Settings(data_dir=cache, database_url=None, redis_url=None, chroma_url=None)
    figures: dict[str, tuple[float, float]] = {}
    async with open_services(settings, embedder=embedder, with_redis=False) as services:
        async with services.sessions() as session:
            workspace = await workspaces.get(session, "bench")
        started = time.perf_counter()
        await MemoryKeywords(services.sessions).current(workspace)
        load_s = time.perf_counter() - started
        runs = (
            ("no access filter", Access(), RetrievalConfig()),
            ("public_only", Access(public_only=True), RetrievalConfig()),
            ("public_only, BM25 in SQL", Access(public_only=True), RetrievalConfig(keyword_in_memory=False)),
        )
        for label, access, config in runs:
            services.retriever.config = config
            await services.retriever.search(workspace, texts[0], limit=10, access=access)  # warm
            timings = []
            for text in texts:
                started = time.perf_counter()
                await services.retriever.search(workspace, text, limit=10, access=access)
                timings.append((time.perf_counter() - started) * 1000.0)
            figures[label] = (percentile(timings, 50), percentile(timings, 95))
    return load_s, figures


def http_p95(base: str, key: str, texts: list[str]) -> tuple[float, float]:
    timings = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        for text in texts[:10]:  # warm-up
            client.post("/api/v1/workspaces/bench/search", json={"query": text})
        for text in texts:
            started = time.perf_counter()
            response = client.post("/api/v1/workspaces/bench/search", json={"query": text, "limit": 10})
            timings.append((time.perf_counter() - started) * 1000.0)
            response.raise_for_status()
    return percentile(timings, 50), percentile(timings, 95)


def tree_cpu_s(root: int) -> float | None:
    """CPU seconds used so far by a process and all its descendants; None where there is no /proc."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:  # the fields after the command name: state, ppid, ..., utime (12th), stime (13th)
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        parent[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    tree, grew = {root}, True
    while grew:
        found = {pid for pid, ppid in parent.items() if ppid in tree} - tree
        tree |= found
        grew = bool(found)
    return sum(ticks.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


def settle(root: int, *, busy: float = 0.05, window_s: float = 2.0, timeout_s: float = 180.0) -> float:
    """Wait until the server and its children use under ``busy`` of one core over ``window_s``; the
    seconds waited. After /readyz, the server and its worker still load the keyword index into memory
    (a core for ~10 s on 2 slow cores at 50k chunks): searches timed then measure that start-up."""
    started = time.perf_counter()
    before = tree_cpu_s(root)
    while before is not None and time.perf_counter() - started < timeout_s:
        time.sleep(window_s)
        after = tree_cpu_s(root)
        if after is None or after - before < busy * window_s:
            break
        before = after
    return time.perf_counter() - started


def serve(cache: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    """``switchboard serve`` on the cache dir, its URL, and the seconds it took to settle once ready."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env["SWITCHBOARD_DATA_DIR"] = str(cache)
    process = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", "--port", str(port)], env=env, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/readyz", 180, process)
    return process, base, settle(process.pid)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=50_000, help="documents (a long one makes 2 chunks)")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--cache", type=Path, default=Path("bench/.cache/latency"))
    args = parser.parse_args()
    configure_logging(Settings(log_level="warning"))  # not a debug line per indexed document
    embedder = MiniLMEmbedder()
    key = asyncio.run(build(args.cache, args.chunks, embedder))
    texts = queries(args.queries)
    process, base, settled_s = serve(args.cache)
    try:
        p50, p95 = http_p95(base, key, texts)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    embed_p95 = embedding_p95(embedder, texts)
    load_s, searches = asyncio.run(in_process(args.cache, embedder, texts[:100]))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"index: {args.chunks} documents; {len(texts)} sequential HTTP searches (limit 10)")
    print(f"server settled {settled_s:.0f} s after /readyz (start-up work done) before the searches")
    print(f"HTTP search:        p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
    print(f"query embedding:                   p95 {embed_p95:7.1f} ms  (in-process)")
    print(f"ratio p95 HTTP/embedding: {p95 / embed_p95:.2f}   (target <= 3)")
    print(f"keyword index loaded into memory in {load_s:.1f} s (a process's first search of the workspace)")
    for label, (s50, s95) in searches.items():
        print(f"in-process search, {label + ':':26s} p50 {s50:7.1f} ms   p95 {s95:7.1f} ms")


if __name__ == "__main__":
    main()
