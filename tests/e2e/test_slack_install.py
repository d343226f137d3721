"""Multi-team mode end to end: slack-bolt's OAuth v2 flow (/slack/install → state → /slack/oauth_redirect
with a code → oauth.v2.access on the loopback fake Slack API), the installation stored encrypted, and then
that team's events answered (by the worker) with that team's own bot token.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from core.embeddings import MiniLMEmbedder
from core.tables import ChatInstallation
from hub.settings import Settings, SlackSettings
from tests.e2e.conftest import SECRET, World, chat_hub, populate, spy_questions, text_of
from tests.fakes.slack import Install, fake_slack
from tests.support import slack as payloads

CLIENT_ID = "1111111111.2222222222"


@pytest.fixture
async def multi_team(
    settings: Settings,
    embedder: MiniLMEmbedder,
    redis_url: str,
    chroma_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[World]:
    team = f"T{uuid.uuid4().hex[:8].upper()}"
    async with fake_slack() as fake:
        configured = settings.model_copy(
            update={
                "redis_url": redis_url,
                "chroma_url": chroma_server,
                "slack": SlackSettings(
                    signing_secret=SecretStr(SECRET),
                    client_id=CLIENT_ID,
                    client_secret=SecretStr("oauth-client-secret"),
                    api_url=fake.api_url,
                ),
            }
        )
        async with chat_hub(configured, embedder) as (live, _):
            world = World(live, fake, httpx.AsyncClient(base_url=live.base_url, timeout=30), team)
            await populate(world)
            spy_questions(world, monkeypatch)
            try:
                yield world
            finally:
                await world.http.aclose()


async def start(world: World) -> tuple[str, dict[str, str]]:
    """/slack/install: the "Add to Slack" link's state, and the browser cookie bolt binds it to (a
    ``Secure`` cookie, which httpx keeps off plain http: the test sends it back itself, as a browser
    on the https deployment would)."""
    page = await world.http.get("/slack/install")
    assert page.status_code == 200, page.text
    link = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page.text)
    assert link is not None, page.text
    query = httpx.URL(link.group(1).replace("&amp;", "&")).params
    assert query["client_id"] == CLIENT_ID and "commands" in query["scope"]
    cookie = page.headers["set-cookie"].split(";", 1)[0]
    assert query["state"] in cookie
    return query["state"], {"Cookie": cookie}


async def redirect(world: World, code: str, state: str, headers: dict[str, str]) -> httpx.Response:
    params = {"code": code, "state": state}
    return await world.http.get("/slack/oauth_redirect", params=params, headers=headers)


async def install(world: World, code: str) -> httpx.Response:
    state, cookie = await start(world)
    return await redirect(world, code, state, cookie)


async def test_oauth_install_stores_the_team_encrypted_and_its_events_use_its_token(
    multi_team: World,
) -> None:
    world, fake = multi_team, multi_team.fake
    fake.installs["code-1"] = Install(team_id=world.team, bot_token="xoxb-installed-team-token")
    done = await install(world, "code-1")
    assert done.status_code == 200, done.text
    exchange = fake.of("oauth.v2.access")
    assert len(exchange) == 1 and exchange[0].params["code"] == "code-1"
    assert exchange[0].authorization.startswith("Basic ")  # client id + secret, as Slack requires
    async with world.live.services.sessions() as session:
        rows = (await session.scalars(select(ChatInstallation))).all()
    assert [(r.platform, r.team_id) for r in rows] == [("slack", world.team)]
    assert "xoxb" not in rows[0].secret  # Fernet-encrypted at rest

    await world.event(channel="CALPHA", user="UINST", text="<@UBOT> how do I get VPN access?", ts="1.000001")
    await fake.wait(lambda: fake.of("chat.postMessage"))
    posted = fake.of("chat.postMessage")[0]
    assert posted.authorization == "Bearer xoxb-installed-team-token"
    assert "IT portal" in text_of(posted.params) and posted.params["thread_ts"] == "1.000001"


async def test_a_replayed_state_or_a_bad_code_installs_nothing_and_unknown_teams_get_no_answer(
    multi_team: World,
) -> None:
    world, fake = multi_team, multi_team.fake
    bad = await install(world, "no-such-code")
    assert bad.status_code >= 400
    state, cookie = await start(world)
    assert (await redirect(world, "code-2", state, {})).status_code >= 400  # not the browser that began
    fake.installs["code-2"] = Install(team_id=world.team, bot_token="xoxb-second")
    first = await redirect(world, "code-2", state, cookie)
    replay = await redirect(world, "code-2", state, cookie)
    assert first.status_code == 200 and replay.status_code >= 400
    assert len(fake.of("oauth.v2.access")) == 2  # the bad code, then code-2 once: the replay never got there
    stranger = payloads.mention(team="TNOPE", channel="CALPHA", user="U9", text="<@U1> VPN?", ts="2.1")
    assert (await world.post(stranger, "application/json")).status_code == 200
    await asyncio.sleep(1.0)  # time enough for a (wrong) answer to arrive
    async with world.live.services.sessions() as session:
        teams = (await session.scalars(select(ChatInstallation.team_id))).all()
    assert teams == [world.team]
    assert fake.of("chat.postMessage") == [] and world.questions == []
