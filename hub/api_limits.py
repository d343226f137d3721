"""REST rate limits, per API key and per workspace, in Redis (shared by every API process).

Over a limit, ``core.errors.RateLimited`` becomes 429 with Retry-After (``hub.errors``). Without Redis
(a one-shot CLI) there is nothing to share a count with, so nothing is limited.
"""

from __future__ import annotations

from core.apikeys import Principal
from core.ratelimit import Rate
from hub.container import Services


async def check_rest_limits(services: Services, principal: Principal) -> None:
    cfg = services.settings.rate_limits
    if not cfg.enabled or services.limiter is None:
        return
    limits = [
        (f"api:key:{principal.key_id}", Rate.parse(cfg.api_key)),
        (f"api:workspace:{principal.workspace_id}", Rate.parse(cfg.workspace)),
    ]
    await services.limiter.check(limits, "Too many requests.")
