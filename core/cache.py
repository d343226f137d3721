"""Caches in Redis, shared by every process of a deployment.

Query cache: the key holds the workspace (id and uid), its index version, the normalised question, the
filters and the asker's access, so a re-index invalidates it and no key is ever shared by two workspaces.
Sentence vectors: a compute memo for extractive answers, keyed by workspace uid, model and text digest.
Hits and misses are counted for ``/metrics``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.embeddings import Vectors
from core.models import Answer, SearchFilters
from core.tables import Workspace

PREFIX = "sb:answer:"
VECTOR_PREFIX = "sb:vec:"


def normalise_question(text: str) -> str:
    return " ".join(text.casefold().replace("?", " ").split())


def cache_key(workspace: Workspace, version: int, question: str, filters: SearchFilters, access: str) -> str:
    material = json.dumps(
        [workspace.id, workspace.uid, version, normalise_question(question), filters.cache_key(), access]
    )
    return f"{PREFIX}{workspace.id}:{hashlib.sha256(material.encode()).hexdigest()}"


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class QueryCache:
    def __init__(
        self, redis: Redis, *, ttl_s: int = 86400, on_lookup: Callable[[bool], None] | None = None
    ) -> None:
        self._redis = redis
        self._ttl_s = ttl_s
        self._on_lookup = on_lookup  # a metrics port: called with True on a hit, False on a miss
        self.stats = CacheStats()

    async def get(self, key: str) -> Answer | None:
        try:
            raw = await self._redis.get(key)
        except RedisError:
            raw = None  # a cache outage costs latency, never an answer
        self._count(hit=raw is not None)
        return None if raw is None else Answer.model_validate_json(raw)

    def _count(self, *, hit: bool) -> None:
        if hit:
            self.stats.hits += 1
        else:
            self.stats.misses += 1
        if self._on_lookup is not None:
            self._on_lookup(hit)

    async def put(self, key: str, answer: Answer) -> None:
        try:
            await self._redis.set(key, answer.model_dump_json(), ex=self._ttl_s)
        except RedisError:
            return


class SharedVectors:
    """Sentence vectors one process embedded, for the others: a memo of the model's output, not of answers.

    An extractive answer's cost is embedding its shortlisted sentences. Each process remembers its own
    (``core.embeddings.VectorMemo``); without this, every API process and worker paid again for each
    sentence it had not seen, which is what a fresh deployment does for its first minute under load. A
    vector does not depend on the asker or the question, so a shared one is the vector the model would
    give. Keys hold the workspace uid (no key serves two workspaces), the model and a digest of the
    text, never the text; entries expire after ``ttl_s``. A Redis outage costs the embedding it would
    have saved, never an answer.
    """

    def __init__(
        self,
        redis: Redis,
        model: str,
        dim: int,
        *,
        ttl_s: int = 3600,
        on_lookup: Callable[[bool], None] | None = None,
    ) -> None:
        self._redis = redis
        self._model = model
        self._dim = dim
        self._ttl_s = ttl_s
        self._on_lookup = on_lookup  # a metrics port: called once per text looked up

    def key(self, scope: str, text: str) -> str:
        digest = hashlib.blake2b(f"{self._model}\0{text}".encode(), digest_size=16).hexdigest()
        return f"{VECTOR_PREFIX}{scope}:{digest}"

    async def get(self, scope: str, texts: list[str]) -> list[Vectors | None]:
        """The shared vector of each text, or None; a malformed entry counts as missing."""
        try:
            raw = await self._redis.mget([self.key(scope, text) for text in texts])
        except RedisError:
            raw = [None] * len(texts)
        found = [self._vector(value) for value in raw]
        if self._on_lookup is not None:
            for vector in found:
                self._on_lookup(vector is not None)
        return found

    def _vector(self, value: bytes | None) -> Vectors | None:
        if value is None or len(value) != self._dim * 4:
            return None
        vector: Vectors = np.frombuffer(value, dtype=np.float32).copy()
        return vector

    async def put(self, scope: str, vectors: dict[str, Vectors]) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for text, vector in vectors.items():
                    pipe.set(self.key(scope, text), vector.astype(np.float32).tobytes(), ex=self._ttl_s)
                await pipe.execute()
        except RedisError:
            return
