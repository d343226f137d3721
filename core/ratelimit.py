"""Fixed-window rate limits in Redis, shared by every process and every entry point (bots, REST, webhooks).

One atomic script per hit: increment the window's counter, start its expiry on the first hit, and return
the count with the time left. Keys are opaque strings chosen by the caller (e.g. ``slack:T1:user:U1``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from redis.asyncio import Redis

from core.errors import InvalidInput, RateLimited

HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
"""

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` hits per ``period_s`` seconds."""

    count: int
    period_s: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"10/minute"``, ``"100/hour"``, ...: the form settings use."""
        match = RATE.match(text)
        if match is None or int(match.group(1)) < 1:
            raise InvalidInput(f"invalid rate {text!r}: use '<count>/<second|minute|hour|day>'")
        return cls(int(match.group(1)), PERIODS[match.group(2)])


class RateLimiter:
    def __init__(self, redis: Redis, *, prefix: str = "switchboard:rate") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(HIT)

    async def hit(self, key: str, rate: Rate) -> float | None:
        """Count one hit; None when allowed, else the seconds until the window resets."""
        count, ttl_ms = await self._script(keys=[f"{self._prefix}:{key}"], args=[rate.period_s * 1000])
        if int(count) <= rate.count:
            return None
        return max(0.001, int(ttl_ms) / 1000.0)

    async def check(self, limits: list[tuple[str, Rate]], message: str) -> None:
        """Hit each (key, rate) in order; the first one over its rate raises RateLimited."""
        for key, rate in limits:
            wait = await self.hit(key, rate)
            if wait is not None:
                seconds = math.ceil(wait)
                raise RateLimited(f"{message} Try again in {seconds} s.", retry_after_s=wait)
