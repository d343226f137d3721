"""Several limits checked in one Redis round trip keep the semantics of checking them one by one."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from core.errors import RateLimited
from core.ratelimit import Rate, RateLimiter


async def counts(redis: Redis, prefix: str, *keys: str) -> list[int]:
    return [int(await redis.get(f"{prefix}:{key}") or 0) for key in keys]


async def test_the_first_limit_over_its_rate_raises_and_later_ones_are_not_counted(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    prefix = f"test:{uuid.uuid4().hex}"
    limiter = RateLimiter(redis, prefix=prefix)
    limits = [("key", Rate(2, 60)), ("workspace", Rate(3, 60))]
    try:
        await limiter.check(limits, "Slow down.")
        await limiter.check(limits, "Slow down.")
        with pytest.raises(RateLimited, match=r"Slow down\. Try again in 60 s\.") as tripped:
            await limiter.check(limits, "Slow down.")
        assert tripped.value.retry_after_s is not None and 50 < tripped.value.retry_after_s <= 60
        assert await counts(redis, prefix, "key", "workspace") == [3, 2]  # stopped at the key

        other = [("other-key", Rate(5, 60)), ("workspace", Rate(3, 60))]
        await limiter.check(other, "Slow down.")  # the workspace's third hit is allowed, its fourth not
        with pytest.raises(RateLimited) as second:
            await limiter.check(other, "Slow down.")
        assert second.value.retry_after_s is not None and 0 < second.value.retry_after_s <= 60
        assert await counts(redis, prefix, "other-key", "workspace") == [2, 4]
        await limiter.check([], "never raised")
    finally:
        await redis.aclose()
