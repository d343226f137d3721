"""``switchboard eval``: a BEIR-layout folder through the normal ingest, search and ask paths.

Every corpus line becomes one document (id = ``_id``) in a throwaway workspace; every query with
judgements is searched in-process; with ``answers.jsonl`` the judged queries (or a seeded sample)
are also asked. Progress goes to stderr; the result is a dict of the contract's keys.
"""

from __future__ import annotations

import csv
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from core import workspaces
from core.evaluation import Qrels, answer_hit, mean, mrr_at, ndcg_at, percentile, recall_at
from core.indexing import IncomingDocument, ingest_all
from core.models import Asker, Question
from core.tables import Workspace
from hub.container import Services


@dataclass
class Dataset:
    corpus: list[IncomingDocument]
    queries: dict[str, str]
    qrels: Qrels
    answers: dict[str, list[str]] = field(default_factory=dict)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def read_qrels(path: Path) -> Qrels:
    qrels: Qrels = {}
    with path.open(encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) < 3 or not row[2].strip().lstrip("-").isdigit():
                continue  # the header line, or a malformed row
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return qrels


def load_dataset(folder: Path) -> Dataset:
    corpus = [
        IncomingDocument(
            external_id=str(row["_id"]),
            data=str(row.get("text", "")).encode("utf-8"),
            title=str(row.get("title") or "") or None,
            doc_type="txt",
            collection="eval",
            source="eval",
        )
        for row in read_jsonl(folder / "corpus.jsonl")
    ]
    queries = {str(row["_id"]): str(row["text"]) for row in read_jsonl(folder / "queries.jsonl")}
    qrels = read_qrels(folder / "qrels" / "test.tsv")
    answers_path = folder / "answers.jsonl"
    answers = (
        {str(row["_id"]): [str(a) for a in row["answers"]] for row in read_jsonl(answers_path)}
        if answers_path.exists()
        else {}
    )
    return Dataset(corpus, queries, qrels, answers)


def progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


async def ingest(services: Services, workspace: Workspace, data: Dataset, console: Console) -> int:
    with progress(console) as bar:
        task = bar.add_task("ingest", total=len(data.corpus))
        results = await ingest_all(
            services.indexer,
            workspace,
            data.corpus,
            batch_size=64,
            on_progress=lambda batch: bar.advance(task, len(batch)),
        )
    failed = [r for r in results if r.status == "failed"]
    if failed:
        console.print(f"[yellow]{len(failed)} documents failed to ingest, e.g. {failed[0].error}")
    return len(results) - len(failed)


async def evaluate_retrieval(
    services: Services, workspace: Workspace, data: Dataset, console: Console
) -> dict[str, float]:
    judged = [q for q in data.queries if q in data.qrels]
    ndcg, recall, mrr, latency = [], [], [], []
    with progress(console) as bar:
        task = bar.add_task("search", total=len(judged))
        for qid in judged:
            started = time.perf_counter()
            ranked = await services.retriever.rank_documents(workspace, data.queries[qid], limit=100)
            latency.append((time.perf_counter() - started) * 1000.0)
            ndcg.append(ndcg_at(ranked, data.qrels[qid]))
            recall.append(recall_at(ranked, data.qrels[qid]))
            mrr.append(mrr_at(ranked, data.qrels[qid]))
            bar.advance(task)
    return {
        "ndcg_at_10": mean(ndcg),
        "recall_at_100": mean(recall),
        "mrr_at_10": mean(mrr),
        "latency_ms_p50": percentile(latency, 50),
        "latency_ms_p95": percentile(latency, 95),
        "queries": len(judged),
    }


def answer_sample(data: Dataset, limit: int | None) -> list[str]:
    judged = [q for q in data.queries if q in data.qrels and q in data.answers]
    if limit is not None and limit < len(judged):
        return random.Random(0).sample(judged, limit)  # noqa: S311 - a reproducible sample, not security
    return judged


async def evaluate_answers(
    services: Services, workspace: Workspace, data: Dataset, limit: int | None, console: Console
) -> dict[str, float]:
    sample = answer_sample(data, limit)
    hits, cited, abstained, chars, latency = [], [], [], [], []
    asker = Asker(platform="eval")
    with progress(console) as bar:
        task = bar.add_task("ask", total=len(sample))
        for qid in sample:
            started = time.perf_counter()
            answer = await services.asker.ask(workspace, Question(text=data.queries[qid]), asker)
            latency.append((time.perf_counter() - started) * 1000.0)
            hits.append(float(answer_hit(answer.answer, data.answers[qid], abstained=answer.abstained)))
            first = answer.citations[0].document_id if answer.citations else None
            cited.append(float(first is not None and data.qrels[qid].get(first, 0) > 0))
            abstained.append(float(answer.abstained))
            chars.append(float(len(answer.answer)))
            bar.advance(task)
    return {
        "answer_hit_rate": mean(hits),
        "citation_hit_rate": mean(cited),
        "abstain_rate": mean(abstained),
        "answer_chars_mean": mean(chars),
        "answer_ms_p95": percentile(latency, 95),
        "answered_queries": len(sample),
    }


async def run(
    services: Services, folder: Path, *, limit: int | None, console: Console, workspace_name: str = "eval"
) -> dict[str, Any]:
    data = load_dataset(folder)
    async with services.sessions.begin() as session:
        workspace = await workspaces.get_or_create(session, workspace_name)
    docs = await ingest(services, workspace, data, console)
    async with services.sessions() as session:
        workspace = await workspaces.get(session, workspace_name)  # fresh embedding model / version
    result: dict[str, Any] = {"docs": docs}
    result |= await evaluate_retrieval(services, workspace, data, console)
    if data.answers:
        result |= await evaluate_answers(services, workspace, data, limit, console)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}
