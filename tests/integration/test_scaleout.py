"""Scale-out proof, short version (``python -m bench.scaleout`` is the long one): two ``switchboard serve``
API processes and two ``switchboard worker`` processes on PostgreSQL, Redis and a Chroma server, all real
processes on 127.0.0.1. Files uploaded through both APIs are indexed by the workers, every job record is
complete, and both APIs give the same answers with the same citations.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bench.cluster import running_cluster
from bench.scaleout import CORPUS, QUESTIONS, corpus_files, prove, set_up
from hub.runtime import EmbeddedChroma
from tests.support.workers import flush

pytestmark = pytest.mark.slow


async def test_two_apis_and_two_workers_agree(tmp_path: Path, postgres_url: str, redis_url: str) -> None:
    await flush(redis_url)
    (tmp_path / "chroma").mkdir()
    chroma = EmbeddedChroma(tmp_path / "chroma")
    chroma_url = chroma.start(timeout_s=120)
    try:
        with running_cluster(
            tmp_path / "cluster",
            database_url=postgres_url,
            redis_url=redis_url,
            chroma_url=chroma_url,
            extra_env={"SWITCHBOARD_CACHE__ENABLED": "false"},  # each answer computed where it was asked
        ) as cluster:
            async with httpx.AsyncClient(timeout=10) as http:
                for base in cluster.api_urls:
                    ready = (await http.get(f"{base}/readyz")).json()
                    assert ready == {
                        "ready": True,
                        "checks": {"database": "ok", "index": "ok", "redis": "ok"},
                    }
            key = set_up(cluster)
            files = corpus_files(CORPUS / "oncall")
            result = await prove(cluster, key, files, QUESTIONS[:5])
    finally:
        chroma.stop()
    assert result["jobs"] >= 2  # uploads went through both APIs
    assert result["incomplete_jobs"] == {}
    assert result["documents_indexed"] == len(files)
    assert result["job_lists_agree"]
    assert result["disagreeing_questions"] == []
    assert result["abstained"] < 5  # the answers come from the uploaded documents
