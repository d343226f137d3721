"""Upload benchmark: documents/s through the REST upload path next to the raw embedding rate, same passages.

    .venv/bin/python -m bench.uploads [--docs 400] [--dataset ../shared/data/nfcorpus] [--per-request 200]

Upload path = a real ``switchboard serve`` (embedded Valkey, Chroma server, worker child) on a fresh data
dir; each corpus line becomes one ``<_id>.txt`` file sent in multipart requests to
``POST /api/v1/workspaces/bench/documents``; the clock runs from the first request until every job's
event stream says done. Raw = ``embedder.embed`` on exactly the passages the indexer makes of those
files, measured after the server has stopped (2 cores are shared, so never at the same time).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import httpx

from core.embeddings import MiniLMEmbedder
from core.indexing import IncomingDocument, Indexer
from hub.runtime import free_port, stop_process, wait_http

DEFAULT_DATASET = Path(__file__).resolve().parents[2] / "shared" / "data" / "nfcorpus"


def load(dataset: Path, limit: int) -> list[tuple[str, bytes]]:
    files = []
    with (dataset / "corpus.jsonl").open() as handle:
        for line in handle:
            row = json.loads(line)
            files.append((f"{row['_id']}.txt", f"{row.get('title') or ''}\n\n{row['text']}".encode()))
            if len(files) >= limit:
                break
    return files


def cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", *args], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def follow(http: httpx.Client, url: str, key: str) -> dict[str, Any]:
    last: dict[str, Any] = {}
    with http.stream("GET", url, headers={"Authorization": f"Bearer {key}"}, timeout=None) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                last = json.loads(line[6:])
    return last


def upload_all(base: str, key: str, files: list[tuple[str, bytes]], per_request: int) -> tuple[float, int]:
    """Seconds from the first request until every job is done, and how many documents were indexed."""
    started = time.perf_counter()
    with httpx.Client(base_url=base, timeout=300) as http:
        events = []
        for lo in range(0, len(files), per_request):
            parts = [("files", (n, d, "text/plain")) for n, d in files[lo : lo + per_request]]
            response = http.post(
                "/api/v1/workspaces/bench/documents", files=parts, headers={"Authorization": f"Bearer {key}"}
            )
            response.raise_for_status()
            events.append(response.json()["events"])
        finals = [follow(http, url, key) for url in events]
    indexed = sum(f["counts"].get("created", 0) + f["counts"].get("updated", 0) for f in finals)
    return time.perf_counter() - started, indexed


def through_api(files: list[tuple[str, bytes]], per_request: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        env.update(SWITCHBOARD_DATA_DIR=tmp, SWITCHBOARD_LOG_LEVEL="WARNING")
        cli(env, "workspace", "create", "bench")
        key = cli(env, "apikey", "create", "--workspace", "bench", "--role", "editor")
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", 120, cast(Any, server))
            time.sleep(3)  # let the worker child load the model before the clock starts
            return upload_all(f"http://127.0.0.1:{port}", key, files, per_request)
        finally:
            stop_process(cast(Any, server), timeout_s=30)


def passages(files: list[tuple[str, bytes]], embedder: MiniLMEmbedder) -> list[str]:
    """Exactly what the indexer embeds for these files (it needs no DB or index to prepare)."""
    none = cast(Any, None)
    indexer = Indexer(none, none, embedder, none)
    return [p for name, data in files for p in indexer.prepare(IncomingDocument(name, data, name)).passages]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--per-request", type=int, default=200)
    args = parser.parse_args()
    files = load(args.dataset, args.docs)
    api_s, indexed = through_api(files, args.per_request)
    embedder = MiniLMEmbedder()
    texts = passages(files, embedder)
    embedder.embed(["warm up"] * 8)
    started = time.perf_counter()
    embedder.embed(texts)
    raw_s = time.perf_counter() - started
    api_rate, raw_rate = indexed / api_s, len(files) / raw_s
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    shape = f"passages: {len(texts)}  per request: {args.per_request}"
    print(f"documents: {len(files)} ({indexed} indexed)  {shape}")
    passage_rate = len(texts) / raw_s
    print(f"raw embedding:      {raw_rate:8.1f} documents/s  ({passage_rate:.1f} passages/s, {raw_s:.1f} s)")
    print(f"upload via API:     {api_rate:8.1f} documents/s  ({api_s:.1f} s, queued to done)")
    print(f"ratio upload/raw:   {api_rate / raw_rate:8.2f}")


if __name__ == "__main__":
    main()
