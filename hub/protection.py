"""Data protection operations that span the DB and Redis: GDPR erasure, retention runs, key rotation."""

from __future__ import annotations

import json
from typing import Any

import structlog
from arq.constants import result_key_prefix

from core import people, retention, rotation
from core.cache import PREFIX as CACHE_PREFIX
from core.cache import normalise_question
from core.db import purge_deleted
from core.people import Identity
from core.tables import utcnow
from hub.container import Services

log = structlog.get_logger(__name__)


async def erase_person(services: Services, who: Identity, workspace_id: int | None = None) -> dict[str, int]:
    """Erase the person from the DB; from Redis, their rate-limit counters and cached answers to their
    questions (cache keys are hashes, so the cached answers are matched by the question they hold)."""
    async with services.sessions.begin() as session:
        asked = await people.export(session, who, workspace_id)
        counts = await people.erase(session, who, workspace_id)
    purged = await purge_deleted(services.engine)
    counts["redis_keys"] = await _erase_redis(services, who) + await _erase_job_results(services, who)
    questions = {(q["workspace_id"], normalise_question(q["question"])) for q in asked["questions"]}
    counts["cached_answers"] = await _erase_cached(services, questions)
    log.info("person erased", wal_purged=purged, **counts)  # counts only: nothing that identifies them
    return counts


async def _erase_redis(services: Services, who: Identity) -> int:
    if services.redis is None:
        return 0
    user_ids = {who.email, *(user for _, user in who.accounts)}
    removed = 0
    for user_id in user_ids:
        pattern = f"switchboard:rate:*:user:{_glob_escape(user_id)}"
        keys = [key async for key in services.redis.scan_iter(match=pattern, count=500)]
        if keys:
            removed += int(await services.redis.delete(*keys))
    return removed


async def _erase_job_results(services: Services, who: Identity) -> int:
    """arq result records that name the person (chat jobs keep none, but a failed job's record holds its
    arguments for an hour). Pickled strings are stored as UTF-8, so a byte search finds them."""
    if services.redis is None:
        return 0
    needles = [text.encode() for text in {who.email, *(user for _, user in who.accounts)}]
    removed = 0
    async for key in services.redis.scan_iter(match=f"{result_key_prefix}*", count=500):
        raw = await services.redis.get(key)
        if raw and any(needle in raw for needle in needles):
            removed += int(await services.redis.delete(key))
    return removed


async def _erase_cached(services: Services, questions: set[tuple[int, str]]) -> int:
    if services.redis is None or not questions:
        return 0
    removed = 0
    for workspace_id in {w for w, _ in questions}:
        async for key in services.redis.scan_iter(match=f"{CACHE_PREFIX}{workspace_id}:*", count=500):
            raw = await services.redis.get(key)
            try:
                cached = json.loads(raw or b"{}")
            except ValueError:
                continue
            if (workspace_id, normalise_question(str(cached.get("question", "")))) in questions:
                removed += int(await services.redis.delete(key))
    return removed


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


async def export_person(services: Services, who: Identity, workspace_id: int | None = None) -> dict[str, Any]:
    async with services.sessions() as session:
        return await people.export(session, who, workspace_id)


async def run_retention(services: Services) -> dict[str, int]:
    async with services.sessions.begin() as session:
        counts = await retention.enforce(session, utcnow())
    if any(counts.values()):
        log.info("retention enforced", **counts)
    return counts


async def enforce_retention(ctx: dict[str, Any]) -> dict[str, int]:
    """arq cron: delete questions and conversations past each workspace's retention."""
    return await run_retention(ctx["services"])


async def rotate_keys(services: Services) -> dict[str, int]:
    async with services.sessions.begin() as session:
        return await rotation.rotate(session, services.fernet)
