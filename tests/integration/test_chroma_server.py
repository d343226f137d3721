"""The Chroma server that ``serve`` starts caches each collection's segment records (``chroma_config``):
what one client writes, drops or rebuilds is what every other client reads next."""

from __future__ import annotations

import uuid

import numpy as np

from core.embeddings import MiniLMEmbedder
from core.vectors import VectorIndex, connect


def unit(i: int) -> np.ndarray:
    vector = np.zeros(384, dtype=np.float32)
    vector[i] = 1.0
    return vector


async def test_writes_and_a_rebuild_are_seen_at_once_by_another_client(
    chroma_server: str, embedder: MiniLMEmbedder
) -> None:
    writer = VectorIndex(connect(chroma_url=chroma_server, path=None), embedder)
    reader = VectorIndex(connect(chroma_url=chroma_server, path=None), embedder)
    uid = uuid.uuid4().hex
    vectors = np.stack([unit(0), unit(1)])
    await writer.add(uid, [1, 2], vectors, [{"doc": 10}, {"doc": 20}])
    assert [i for i, _ in await reader.query(uid, unit(0), limit=5, where=None)] == [1, 2]  # cached now

    await writer.delete_documents(uid, [10])
    await writer.add(uid, [3], unit(2).reshape(1, -1), [{"doc": 30}])
    assert [i for i, _ in await reader.query(uid, unit(2), limit=5, where=None)] == [3, 2]

    await writer.drop(uid)  # as `reindex` does: a new collection under the same name
    await writer.add(uid, [4], unit(3).reshape(1, -1), [{"doc": 40}])
    assert [i for i, _ in await reader.query(uid, unit(3), limit=5, where=None)] == [4]
