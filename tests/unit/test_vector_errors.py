"""Chroma being unreachable is a TransientError; an embedder's own error is not mislabelled as one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from core.embeddings import MiniLMEmbedder, Vectors
from core.errors import TransientError
from core.vectors import VectorIndex, connect, reaching


def refused() -> None:
    raise ConnectionRefusedError(111, "Connection refused")


def timed_out() -> None:
    raise TimeoutError("timed out")


def bug() -> None:
    raise ValueError("bad")


def test_an_unreachable_index_is_transient() -> None:
    with pytest.raises(TransientError, match="vector index unreachable"):
        reaching(refused)
    with pytest.raises(TransientError):
        reaching(timed_out)
    with pytest.raises(ValueError, match="bad"):  # a bug stays a bug
        reaching(bug)


def test_embed_and_query_in_one_hop(tmp_path: Path) -> None:
    index = VectorIndex(connect(chroma_url=None, path=tmp_path / "chroma"), MiniLMEmbedder())
    unit = np.eye(384, dtype=np.float32)

    def broken_embedder() -> Vectors:
        raise ConnectionResetError("the embeddings API hung up")

    async def scenario() -> None:
        await index.add("ws", [1, 2], unit[:2], [{"doc": 1}, {"doc": 2}])
        hits, vector = await index.embed_and_query("ws", lambda: unit[1], limit=2, where=None)
        assert [chunk_id for chunk_id, _ in hits] == [2, 1]
        assert hits[0][1] == pytest.approx(1.0)
        assert int(np.argmax(vector)) == 1
        with pytest.raises(ConnectionResetError):  # the embedder's error, not "vector index unreachable"
            await index.embed_and_query("ws", broken_embedder, limit=2, where=None)

    asyncio.run(scenario())
