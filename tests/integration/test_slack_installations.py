"""Multi-team installs on SQLite and PostgreSQL (tokens encrypted at rest), OAuth state and rate limits
in real Redis."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis
from slack_sdk.oauth.installation_store.models.installation import Installation
from sqlalchemy import select

from bots.slack.installations import RedisStateStore, SqlInstallationStore
from core.errors import InvalidInput, RateLimited
from core.ratelimit import Rate, RateLimiter
from core.tables import ChatInstallation
from hub.container import Services


def install(team: str, token: str, user: str = "U1") -> Installation:
    return Installation(
        app_id="A1",
        team_id=team,
        team_name="Acme",
        bot_token=token,
        bot_id="B1",
        bot_user_id="UB1",
        bot_scopes=["chat:write", "commands"],
        user_id=user,
        installed_at=1_700_000_000.5,
    )


async def test_installations_round_trip_encrypted(any_services: Services) -> None:
    store = SqlInstallationStore(any_services.sessions, any_services.fernet)
    await store.async_save(install("T1", "xoxb-first"))
    await store.async_save(install("T1", "xoxb-second", user="U2"))
    await store.async_save(install("T2", "xoxb-other"))
    bot = await store.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None and bot.bot_token == "xoxb-second" and bot.bot_scopes == ["chat:write", "commands"]
    first = await store.async_find_installation(enterprise_id=None, team_id="T1", user_id="U1")
    assert first is not None and first.bot_token == "xoxb-first" and first.installed_at == 1_700_000_000.5
    assert await store.async_find_bot(enterprise_id=None, team_id="T3") is None
    assert await store.async_find_bot(enterprise_id="E1", team_id="T1") is None
    async with any_services.sessions() as session:
        secrets = (await session.scalars(select(ChatInstallation.secret))).all()
    assert len(secrets) == 3 and not any("xoxb" in s for s in secrets)
    await store.async_delete_all(enterprise_id=None, team_id="T1")
    assert await store.async_find_bot(enterprise_id=None, team_id="T1") is None
    assert await store.async_find_bot(enterprise_id=None, team_id="T2") is not None


async def test_oauth_state_is_single_use(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        store = RedisStateStore(redis)
        state = await store.async_issue()
        assert await store.async_consume(state) is True
        assert await store.async_consume(state) is False
        assert await store.async_consume("never-issued") is False
    finally:
        await redis.aclose()


async def test_rate_limiter_counts_per_key_and_says_when(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        limiter = RateLimiter(redis, prefix=f"test:{uuid.uuid4().hex}")
        rate = Rate.parse("3/minute")
        assert [await limiter.hit("u1", rate) for _ in range(3)] == [None, None, None]
        wait = await limiter.hit("u1", rate)
        assert wait is not None and 0 < wait <= 60
        assert await limiter.hit("u2", rate) is None
        with pytest.raises(RateLimited) as limited:
            await limiter.check([("u2", Rate(1, 60))], "Slow down.")
        assert limited.value.retry_after_s and "Try again in" in str(limited.value)
    finally:
        await redis.aclose()
    for bad in ["3", "0/minute", "3/fortnight"]:
        with pytest.raises(InvalidInput):
            Rate.parse(bad)
