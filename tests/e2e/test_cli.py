"""The `switchboard` command as users run it: a real subprocess on a real data dir (and PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TIMEOUT_S = 240


def run(args: list[str], env: dict[str, str], *, ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", *args], env=env, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    if ok:
        assert result.returncode == 0, f"{args}: {result.stderr}"
    return result


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    return {**clean, "SWITCHBOARD_DATA_DIR": str(tmp_path / "var")}


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "oncall.md").write_text("# On-call\n\nPage the incident commander on 555-0100 for a SEV1.\n")
    (folder / "travel.txt").write_text("Hotel stays in Berlin are capped at 180 EUR per night.\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    return folder


def test_workspace_ingest_ask_and_admin_commands(env: dict[str, str], docs: Path) -> None:
    run(["workspace", "create", "acme"], env)
    duplicate = run(["workspace", "create", "acme"], env, ok=False)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    bad = run(["workspace", "create", "Not A Slug"], env, ok=False)
    assert bad.returncode == 1 and "invalid workspace name" in bad.stderr

    ingested = run(["ingest", str(docs), "--workspace", "acme", "--collection", "handbook"], env, ok=False)
    assert ingested.returncode == 1  # one file failed, and says so
    assert "2 created" in ingested.stdout and "broken.pdf" in ingested.stderr
    again = run(["ingest", str(docs / "oncall.md"), "--workspace", "acme", "--collection", "handbook"], env)
    assert "1 unchanged" in again.stdout

    answer = json.loads(
        run(["ask", "Who do I page for a SEV1?", "--workspace", "acme", "--json"], env).stdout
    )
    assert answer["workspace"] == "acme" and not answer["abstained"]
    assert answer["citations"][0]["document_id"] == "oncall.md"
    assert "555-0100" in answer["answer"]
    missing = run(["ask", "anything", "--workspace", "nope"], env, ok=False)
    assert missing.returncode == 1 and "does not exist" in missing.stderr

    reindexed = run(["reindex", "acme"], env)
    assert "2 chunks embedded with all-MiniLM-L6-v2" in reindexed.stdout
    after = json.loads(run(["ask", "Who do I page for a SEV1?", "--workspace", "acme", "--json"], env).stdout)
    assert after["citations"][0]["document_id"] == "oncall.md"
    nothing = run(["reindex", "nope"], env, ok=False)
    assert nothing.returncode == 1 and "does not exist" in nothing.stderr

    listing = run(["workspace", "list"], env).stdout
    assert "acme\t2 documents" in listing


def test_channel_default_admins_and_apikey_commands(env: dict[str, str]) -> None:
    run(["workspace", "create", "ops"], env)
    run(["channel", "map", "slack", "--team", "T1", "--channel", "C1", "--workspace", "ops"], env)
    run(
        [
            "channel",
            "map",
            "teams",
            "--team",
            "19:t",
            "--channel",
            "19:c",
            "--tenant",
            "ten",
            "--workspace",
            "ops",
        ],
        env,
    )
    listing = run(["channel", "list"], env).stdout
    assert "slack\tT1\tC1\tops\t*" in listing and "tenant=ten" in listing
    bad = run(
        [
            "channel",
            "map",
            "slack",
            "--team",
            "T",
            "--channel",
            "C",
            "--workspace",
            "ops",
            "--collection",
            "x",
        ],
        env,
        ok=False,
    )
    assert bad.returncode == 1 and "no collection" in bad.stderr
    run(["channel", "unmap", "slack", "--team", "T1", "--channel", "C1"], env)
    assert "C1" not in run(["channel", "list"], env).stdout.replace("19:c", "")
    assert (
        run(["channel", "unmap", "slack", "--team", "T1", "--channel", "C1"], env, ok=False).returncode == 1
    )

    run(["workspace", "default", "slack", "--team", "T1", "ops"], env)
    run(["workspace", "admins", "add", "ops", "slack", "U1"], env)
    assert "slack\tU1" in run(["workspace", "admins", "list", "ops"], env).stdout
    run(["workspace", "admins", "remove", "ops", "slack", "U1"], env)
    assert run(["workspace", "admins", "list", "ops"], env).stdout.strip() == ""

    created = run(["apikey", "create", "--workspace", "ops", "--role", "editor"], env)
    key = created.stdout.strip()
    assert key.startswith("sb_") and "shown only once" in created.stderr
    prefix = key.split("_")[1]
    assert f"{prefix}\tops\teditor\tactive" in run(["apikey", "list"], env).stdout
    assert key not in run(["apikey", "list"], env).stdout
    run(["apikey", "revoke", prefix], env)
    assert f"{prefix}\tops\teditor\trevoked" in run(["apikey", "list"], env).stdout


def test_eval_prints_the_contract_keys(env: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    corpus = [
        {
            "_id": "d1",
            "title": "Kettles",
            "text": "The office kettle is descaled every Friday by facilities.",
        },
        {"_id": "d2", "title": "Bikes", "text": "Bike storage is in the basement, level minus one."},
        {"_id": "d3", "title": "", "text": "Visitors sign in at reception and wear a red badge."},
    ]
    queries = [
        {"_id": "q1", "text": "When is the kettle descaled?"},
        {"_id": "q2", "text": "Where do bikes go?"},
        {"_id": "q3", "text": "an unjudged query"},
    ]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(c) for c in corpus))
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\n")
    (folder / "answers.jsonl").write_text(
        json.dumps({"_id": "q1", "answers": ["every Friday"]})
        + "\n"
        + json.dumps({"_id": "q2", "answers": ["basement"]})
    )
    result = run(["eval", str(folder), "--json"], env)
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(metrics) >= {
        "ndcg_at_10",
        "recall_at_100",
        "mrr_at_10",
        "latency_ms_p50",
        "latency_ms_p95",
        "docs",
        "queries",
        "answer_hit_rate",
        "citation_hit_rate",
        "abstain_rate",
        "answer_chars_mean",
        "answer_ms_p95",
    }
    assert metrics["docs"] == 3 and metrics["queries"] == 2
    assert (
        metrics["ndcg_at_10"] == 1.0
        and metrics["answer_hit_rate"] == 1.0
        and metrics["citation_hit_rate"] == 1.0
    )
    limited = json.loads(
        run(["eval", str(folder), "--json", "--limit", "1"], env).stdout.strip().splitlines()[-1]
    )
    assert limited["answered_queries"] == 1
    assert run(["eval", str(tmp_path)], env, ok=False).returncode == 1


def test_db_upgrade_on_postgresql_and_refusal_on_old_schema(env: dict[str, str], postgres_url: str) -> None:
    pg = {**env, "SWITCHBOARD_DATABASE_URL": postgres_url}
    refused = run(["workspace", "list"], pg, ok=False)
    assert refused.returncode == 1 and "switchboard db upgrade" in refused.stderr
    assert "up to date" in run(["db", "upgrade"], pg).stdout
    run(["workspace", "create", "pg-ws"], pg)
    assert "pg-ws" in run(["workspace", "list"], pg).stdout
