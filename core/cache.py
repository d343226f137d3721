"""Query cache in Redis. The key holds the workspace (id and uid), its index version, the normalised
question, the filters and the asker's access, so a re-index invalidates it and no key is ever shared
by two workspaces. Hits and misses are counted for ``/metrics``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.models import Answer, SearchFilters
from core.tables import Workspace

PREFIX = "sb:answer:"


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
