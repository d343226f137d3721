"""Fixed-window rate limits in Redis, shared by every process and every entry point (bots, REST, webhooks).

One atomic script per check, for one limit or several (a REST call counts against its key and its
workspace in one round trip): increment each window's counter, start its expiry on the first hit, and stop
at the first counter over its limit, with the time left in its window. Keys are opaque strings chosen by
the caller (e.g. ``slack:T1:user:U1``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from redis.asyncio import Redis

from core.errors import InvalidInput, RateLimited

# Hit each key in order (ARGV: period ms, count, period ms, count, ...) and stop at the first one over its
# count: returns that key's position (1-based; 0 if none is over) and the milliseconds left in its window.
HIT = """
for i, key in ipairs(KEYS) do
  local period, limit = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('PEXPIRE', key, period) end
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then redis.call('PEXPIRE', key, period); ttl = period end
  if count > limit then return {i, ttl} end
end
return {0, 0}
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
        return await self._hit([(key, rate)])

    async def check(self, limits: list[tuple[str, Rate]], message: str) -> None:
        """Hit each (key, rate) in order, in one round trip; the first one over its rate raises
        RateLimited and the keys after it are not counted."""
        wait = await self._hit(limits)
        if wait is not None:
            raise RateLimited(f"{message} Try again in {math.ceil(wait)} s.", retry_after_s=wait)

    async def _hit(self, limits: list[tuple[str, Rate]]) -> float | None:
        if not limits:
            return None
        keys = [f"{self._prefix}:{key}" for key, _ in limits]
        args = [n for _, rate in limits for n in (rate.period_s * 1000, rate.count)]
        over, ttl_ms = await self._script(keys=keys, args=args)
        return max(0.001, int(ttl_ms) / 1000.0) if int(over) else None
