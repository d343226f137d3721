"""Vector index: one Chroma collection per workspace, embedded (PersistentClient) or a server (HttpClient).

Vectors are always computed by our embedder and passed in; Chroma never embeds (offline trap: its
default function would try to download a model). Chroma's client is synchronous, so every call here
runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError
from chromadb.utils.embedding_functions import register_embedding_function

from core.embeddings import Embedder, MiniLMEmbedder, Vectors
from core.errors import TransientError

Where = dict[str, Any]


@register_embedding_function
class SwitchboardEmbeddingFunction(EmbeddingFunction[Documents]):
    """Registers our embedder with Chroma so a collection never falls back to Chroma's downloader."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self._embedder = embedder

    def __call__(self, input: Documents) -> Embeddings:
        embedder = self._embedder or MiniLMEmbedder()
        self._embedder = embedder
        return list(embedder.embed(list(input)))

    @staticmethod
    def name() -> str:
        return "switchboard"

    def default_space(self) -> Any:
        return "cosine"

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> SwitchboardEmbeddingFunction:
        return SwitchboardEmbeddingFunction()

    def get_config(self) -> dict[str, Any]:
        return {"model": self._embedder.name if self._embedder else "all-MiniLM-L6-v2-int8"}


def connect(*, chroma_url: str | None, path: Path | None) -> ClientAPI:
    """A Chroma server when a URL is set; otherwise the embedded store at ``path`` (one process only)."""
    settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        parts = urlsplit(chroma_url)
        return chromadb.HttpClient(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (443 if parts.scheme == "https" else 8000),
            ssl=parts.scheme == "https",
            settings=settings,
        )
    if path is None:
        raise ValueError("embedded Chroma needs a path")
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


def reaching(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, a Chroma call; the index being unreachable becomes a TransientError."""
    try:
        return fn(*args, **kwargs)
    except (ConnectionError, TimeoutError) as exc:
        raise TransientError(f"vector index unreachable: {exc}") from exc


def collection_name(workspace_uid: str) -> str:
    return f"sb_{workspace_uid}"


class VectorIndex:
    """Per-workspace vector collections. Callers pass the workspace's uid; nothing spans two."""

    def __init__(self, client: ClientAPI, embedder: Embedder) -> None:
        self._client = client
        self._function = SwitchboardEmbeddingFunction(embedder)
        # Collection handles by workspace uid: fetching one is a round trip to a Chroma server. A handle
        # goes stale when another process drops the collection (`reindex`); ``_invoke`` then
        # refreshes it. Worker threads share the dict: two that miss at once both fetch, one is kept.
        self._collections: dict[str, Any] = {}

    def _collection(self, workspace_uid: str) -> Any:
        found = self._collections.get(workspace_uid)
        if found is None:
            found = self._client.get_or_create_collection(
                name=collection_name(workspace_uid),
                configuration={"hnsw": {"space": "cosine", "ef_search": 128}},
                embedding_function=self._function,  # type: ignore[arg-type]
            )
            self._collections[workspace_uid] = found
        return found

    async def _call(self, workspace_uid: str, method: str, **kwargs: Any) -> Any:
        """``_invoke`` in a worker thread: the handle's lookup and any retry share the one hop."""
        return await self._run(self._invoke, workspace_uid, method, **kwargs)

    def _invoke(self, workspace_uid: str, method: str, **kwargs: Any) -> Any:
        """A method of the workspace's collection, retried once on a fresh handle if it was dropped."""
        try:
            return getattr(self._collection(workspace_uid), method)(**kwargs)
        except NotFoundError:
            self._collections.pop(workspace_uid, None)
        return getattr(self._collection(workspace_uid), method)(**kwargs)

    async def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(reaching, fn, *args, **kwargs)

    async def add(
        self, workspace_uid: str, ids: Sequence[int], vectors: Vectors, metadatas: Sequence[dict[str, Any]]
    ) -> None:
        if not ids:
            return
        for lo in range(0, len(ids), 1000):
            await self._call(
                workspace_uid,
                "upsert",
                ids=[str(i) for i in ids[lo : lo + 1000]],
                embeddings=vectors[lo : lo + 1000],
                metadatas=list(metadatas[lo : lo + 1000]),
            )

    async def delete_documents(self, workspace_uid: str, document_row_ids: Sequence[int]) -> None:
        for lo in range(0, len(document_row_ids), 500):
            await self._call(
                workspace_uid, "delete", where={"doc": {"$in": list(document_row_ids[lo : lo + 500])}}
            )

    async def query(
        self, workspace_uid: str, vector: Vectors, *, limit: int, where: Where | None
    ) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity) best first."""
        hits: list[tuple[int, float]] = await self._run(self._query, workspace_uid, vector, limit, where)
        return hits

    async def embed_and_query(
        self, workspace_uid: str, embed: Callable[[], Vectors], *, limit: int, where: Where | None
    ) -> tuple[list[tuple[int, float]], Vectors]:
        """``query`` with the vector that ``embed`` returns, both in one worker thread; and the vector.

        A search's query embedding and its Chroma query run back to back: one thread hop instead of two
        saves a wake-up of the event loop and of a worker thread (0.2-0.7 ms a search in paired runs on
        a busy 2-core machine). Only the query's errors count as the index being unreachable."""
        return await asyncio.to_thread(self._embed_and_query, workspace_uid, embed, limit, where)

    def _embed_and_query(
        self, workspace_uid: str, embed: Callable[[], Vectors], limit: int, where: Where | None
    ) -> tuple[list[tuple[int, float]], Vectors]:
        vector = embed()
        hits: list[tuple[int, float]] = reaching(self._query, workspace_uid, vector, limit, where)
        return hits, vector

    def _query(
        self, workspace_uid: str, vector: Vectors, limit: int, where: Where | None
    ) -> list[tuple[int, float]]:
        """In a worker thread: the query, as (chunk id, cosine similarity) best first."""
        result = self._invoke(
            workspace_uid,
            "query",
            query_embeddings=vector.reshape(1, -1),
            n_results=limit,
            where=where or None,
            include=["distances"],
        )
        ids, distances = result["ids"][0], result["distances"][0]
        return [(int(i), 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]

    async def drop(self, workspace_uid: str) -> None:
        self._collections.pop(workspace_uid, None)
        name = collection_name(workspace_uid)
        names = {c.name for c in await self._run(self._client.list_collections)}
        if name in names:
            await self._run(self._client.delete_collection, name)

    async def chunk_ids(self, workspace_uid: str) -> set[int]:
        """Every chunk id with a vector in this workspace (consistency checks against the DB)."""
        result = await self._call(workspace_uid, "get", include=[])
        return {int(i) for i in result["ids"]}

    async def heartbeat(self) -> None:
        await self._run(self._client.heartbeat)
