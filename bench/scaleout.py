"""Scale-out proof on one machine: two APIs, two workers, PostgreSQL, Redis and a Chroma server, all agree.

    .venv/bin/python -m bench.scaleout [--questions 20] [--keep DIR]

Starts ``bench.cluster`` (private PostgreSQL cluster, private redis-server, ``chroma run``, two
``switchboard serve`` and two ``switchboard worker`` processes on 127.0.0.1), uploads the demo corpus
through ``POST /api/v1/workspaces/bench/documents`` (the files split between the two APIs, round-robin),
waits for the jobs, then asks every question concurrently through both APIs with the query cache off (so
each answer is computed by the process that was asked) and checks that:

- every job record is complete (done, progress = total, one count per file, no errors, finished);
- both APIs list the same jobs;
- both APIs give the same answer and the same citations (document, span, quote) to every question.

Prints one JSON object with the figures. The load balancer is a round-robin client (``bench.balancer``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.cluster import ROOT, Cluster, backing_services, exit_on_sigterm, running_cluster
from bench.slack_ack import machine

CORPUS = ROOT / "hub" / "demo" / "corpus"
QUESTIONS = [
    "Who do I page for a SEV1?",
    "How does the on-call handoff work?",
    "What goes into a postmortem?",
    "How is on-call compensated?",
    "When do we update the status page?",
    "How do I fail over the orders database?",
    "What do I do when a build agent disk is full?",
    "How do I purge the CDN cache?",
    "How do I roll back a deploy?",
    "How often are secrets rotated?",
    "How many weeks of parental leave do we get?",
    "How do I submit an expense report?",
    "Can I work remotely from another country?",
    "How do I book travel?",
    "What caused the payments duplicate charges incident?",
    "What happened during the Kafka telemetry lag incident?",
    "How do code reviews work?",
    "How do I set up my development environment?",
    "How much PTO do I get?",
    "What are the security guidelines for laptops?",
]
COLLECTION_CLEAN = {"done"}


def corpus_files(folder: Path = CORPUS) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()]


def set_up(cluster: Cluster, workspace: str = "bench") -> str:
    """A workspace and an editor API key for it (through the CLI, against the shared database)."""
    cluster.cli("workspace", "create", workspace)
    return cluster.cli("apikey", "create", "--workspace", workspace, "--role", "editor").splitlines()[-1]


async def upload(
    http: httpx.AsyncClient, base: str, key: str, files: list[tuple[str, bytes]], workspace: str = "bench"
) -> int:
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    response = await http.post(
        f"{base}/api/v1/workspaces/{workspace}/documents",
        files=parts,
        headers={"Authorization": f"Bearer {key}"},
    )
    response.raise_for_status()
    return int(response.json()["job_id"])


async def upload_round_robin(
    http: httpx.AsyncClient, bases: list[str], key: str, files: list[tuple[str, bytes]], per_request: int
) -> list[int]:
    batches = [files[i : i + per_request] for i in range(0, len(files), per_request)]
    uploads = [upload(http, bases[n % len(bases)], key, batch) for n, batch in enumerate(batches)]
    return list(await asyncio.gather(*uploads))


async def job(http: httpx.AsyncClient, base: str, key: str, job_id: int, workspace: str = "bench") -> Any:
    response = await http.get(
        f"{base}/api/v1/workspaces/{workspace}/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"}
    )
    response.raise_for_status()
    return response.json()


async def wait_jobs(
    http: httpx.AsyncClient, bases: list[str], key: str, job_ids: list[int], timeout_s: float = 600
) -> list[Any]:
    """Poll each job (alternating APIs) until done or failed; transport errors are retried."""
    deadline = time.monotonic() + timeout_s
    finished: dict[int, Any] = {}
    n = 0
    while len(finished) < len(job_ids):
        if time.monotonic() > deadline:
            raise AssertionError(f"jobs not finished in {timeout_s:.0f}s: {set(job_ids) - set(finished)}")
        for job_id in [j for j in job_ids if j not in finished]:
            n += 1
            try:
                state = await job(http, bases[n % len(bases)], key, job_id)
            except httpx.HTTPError:
                continue
            if state["status"] in ("done", "failed"):
                finished[job_id] = state
        await asyncio.sleep(0.5)
    return [finished[j] for j in job_ids]


def incomplete(record: dict[str, Any]) -> str | None:
    """Why a job record is not complete, or None."""
    counted = sum(record["counts"].values())
    if record["status"] != "done":
        return f"status {record['status']}"
    if record["progress"] != record["total"] or counted != record["total"]:
        return f"progress {record['progress']}/{record['total']}, counted {counted}"
    if record["errors"] or not record["finished_at"]:
        return f"errors {record['errors']}, finished_at {record['finished_at']}"
    return None


async def ask(http: httpx.AsyncClient, base: str, key: str, question: str, workspace: str = "bench") -> Any:
    response = await http.post(
        f"{base}/api/v1/workspaces/{workspace}/ask",
        json={"question": question},
        headers={"Authorization": f"Bearer {key}"},
    )
    response.raise_for_status()
    return response.json()


def comparable(answer: dict[str, Any]) -> dict[str, Any]:
    """What must be identical whichever process answered (not latency)."""
    citations = [(c["document_id"], c["start"], c["end"], c["quote"]) for c in answer["citations"]]
    return {"answer": answer["answer"], "abstained": answer["abstained"], "citations": citations}


async def ask_everywhere(
    http: httpx.AsyncClient, bases: list[str], key: str, questions: list[str]
) -> list[list[Any]]:
    """Every question through every API, all at once; one row of answers per question."""
    calls = [ask(http, base, key, q) for q in questions for base in bases]
    answers = await asyncio.gather(*calls)
    return [list(answers[i * len(bases) : (i + 1) * len(bases)]) for i in range(len(questions))]


def disagreements(questions: list[str], rows: list[list[Any]]) -> list[str]:
    return [
        q
        for q, row in zip(questions, rows, strict=True)
        if any(comparable(a) != comparable(row[0]) for a in row)
    ]


async def listed_jobs(http: httpx.AsyncClient, bases: list[str], key: str) -> list[list[Any]]:
    headers = {"Authorization": f"Bearer {key}"}
    responses = [await http.get(f"{b}/api/v1/workspaces/bench/jobs", headers=headers) for b in bases]
    return [[(j["id"], j["status"], j["progress"]) for j in r.json()] for r in responses]


async def prove(
    cluster: Cluster, key: str, files: list[tuple[str, bytes]], questions: list[str]
) -> dict[str, Any]:
    """Upload, wait, ask everywhere; the figures and every inconsistency found."""
    bases = cluster.api_urls
    async with httpx.AsyncClient(timeout=300) as http:
        started = time.perf_counter()
        job_ids = await upload_round_robin(http, bases, key, files, per_request=max(1, len(files) // 4))
        records = await wait_jobs(http, bases, key, job_ids)
        ingest_s = time.perf_counter() - started
        started = time.perf_counter()
        rows = await ask_everywhere(http, bases, key, questions)
        ask_s = time.perf_counter() - started
        lists = await listed_jobs(http, bases, key)
    return {
        "files": len(files),
        "jobs": len(job_ids),
        "incomplete_jobs": {r["id"]: why for r in records if (why := incomplete(r))},
        "documents_indexed": sum(
            r["counts"].get("created", 0) + r["counts"].get("updated", 0) for r in records
        ),
        "ingest_s": round(ingest_s, 1),
        "asks": len(questions) * len(bases),
        "ask_s": round(ask_s, 1),
        "disagreeing_questions": disagreements(questions, rows),
        "job_lists_agree": all(listing == lists[0] for listing in lists),
        "abstained": sum(row[0]["abstained"] for row in rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it (logs, data)")
    args = parser.parse_args()
    exit_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="sb-scaleout-") as tmp:
        root = args.keep or Path(tmp)
        print(f"starting PostgreSQL, Redis, Chroma, 2 APIs, 2 workers under {root}", file=sys.stderr)
        with (
            backing_services(root) as backing,
            running_cluster(
                root,
                database_url=backing.database_url,
                redis_url=backing.redis_url,
                chroma_url=backing.chroma_url,
                extra_env={"SWITCHBOARD_CACHE__ENABLED": "false"},
            ) as cluster,
        ):
            key = set_up(cluster)
            result = asyncio.run(prove(cluster, key, corpus_files(), QUESTIONS[: args.questions]))
    print(json.dumps({**result, "machine": machine()}))
    ok = not result["incomplete_jobs"] and not result["disagreeing_questions"] and result["job_lists_agree"]
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
