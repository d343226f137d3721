"""Admin-page security over real HTTP: CSRF, workspace scoping, session fixation and logout, throttling."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from core import channels, workspaces
from core.account_tables import AuditEvent
from core.embeddings import MiniLMEmbedder
from hub.settings import AdminSettings, Settings
from tests.support.admin import AdminHub, admin_hub, login, page_csrf
from tests.support.workers import flush


@pytest.fixture
async def hub(tmp_path: Path, redis_url: str, embedder: MiniLMEmbedder) -> AsyncIterator[AdminHub]:
    await flush(redis_url)
    settings = Settings(
        data_dir=tmp_path / "var", redis_url=redis_url, admin=AdminSettings(login_rate="4/minute")
    )
    async with admin_hub(settings, embedder) as hub:
        async with hub.live.services.sessions.begin() as session:
            beta = await workspaces.get(session, "beta")
            await channels.map_channel(
                session, platform="slack", team_id="T1", channel_id="CBETA", workspace=beta
            )
        yield hub


async def test_login_sets_a_hardened_session_cookie(hub: AdminHub) -> None:
    async with hub.client() as http:
        response = await login(http, "owner@example.com")
        assert response.status_code == 303 and response.headers["location"] == "/admin"
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("sb_session="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Secure" not in cookie  # plain http on loopback; https requests get Secure
        assert (await http.get("/admin")).status_code == 200
    async with hub.client() as http:  # behind a TLS-terminating proxy, cookies are Secure
        form = await http.get("/admin/login", headers={"X-Forwarded-Proto": "https"})
        assert "Secure" in form.headers["set-cookie"]


async def test_a_post_without_the_csrf_token_is_refused(hub: AdminHub) -> None:
    async with hub.client() as http:
        # the login form itself: no token, or one that does not match the cookie
        refused = await http.post("/admin/login", data={"email": "owner@example.com", "password": "x" * 20})
        assert refused.status_code == 403
        await login(http, "owner@example.com")
        token = await page_csrf(http)
        assert (await http.post("/admin/workspaces", data={"name": "nope"})).status_code == 403
        assert (
            await http.post("/admin/workspaces", data={"name": "nope", "csrf": "forged"})
        ).status_code == 403
        headers = {"X-CSRF-Token": "forged"}
        upload = await http.post("/admin/w/alpha/uploads", files={"files": ("a.txt", b"hi")}, headers=headers)
        assert upload.status_code == 403
        assert (await http.post("/admin/logout")).status_code == 403
        listing = await http.get("/admin/workspaces")
        assert "nope" not in listing.text
        created = await http.post("/admin/workspaces", data={"name": "yes", "csrf": token})
        assert created.status_code == 303 and created.headers["location"].startswith("/admin/w/yes")


async def test_an_editor_of_alpha_cannot_see_beta(hub: AdminHub) -> None:
    async with hub.client() as http:
        await login(http, "editor@example.com")
        token = await page_csrf(http)
        dashboard = await http.get("/admin")
        assert "alpha" in dashboard.text and "beta" not in dashboard.text
        assert (await http.get("/admin/w/beta")).status_code == 404
        assert (await http.get("/admin/w/alpha")).status_code == 200
        assert "CBETA" not in (await http.get("/admin/channels")).text
        assert (await http.get("/admin/w/beta/jobs/1/events")).status_code == 404
        upload = await http.post(
            "/admin/w/beta/uploads", files={"files": ("a.txt", b"hi")}, headers={"X-CSRF-Token": token}
        )
        assert upload.status_code == 404
        mapped = await http.post(
            "/admin/channels/map",
            data={"platform": "slack", "team": "T1", "channel": "CBETA", "workspace": "alpha", "csrf": token},
        )
        assert mapped.status_code == 403  # an editor is not an admin of alpha
        for owner_only in ("/admin/users", "/admin/llm", "/admin/audit", "/admin/audit.csv", "/admin/keys"):
            assert (await http.get(owner_only)).status_code == 403, owner_only
    async with hub.client() as http:  # beta's admin cannot take alpha's channel or read alpha's audit
        await login(http, "beta-admin@example.com")
        token = await page_csrf(http)
        steal = await http.post(
            "/admin/channels/map",
            data={"platform": "slack", "team": "T1", "channel": "CBETA", "workspace": "alpha", "csrf": token},
        )
        assert steal.status_code == 404
        audit = await http.get("/admin/audit")
        assert audit.status_code == 200 and "editor@example.com" not in audit.text


async def test_session_fixation_and_logout(hub: AdminHub) -> None:
    async with hub.client() as http:
        http.cookies.set("sb_session", "planted-by-an-attacker", domain="127.0.0.1")
        assert (await http.get("/admin", headers={"Accept": "text/html"})).headers[
            "location"
        ] == "/admin/login"
        await login(http, "owner@example.com")
        issued = http.cookies.get("sb_session")
        assert issued and issued != "planted-by-an-attacker"
        token = await page_csrf(http)
        out = await http.post("/admin/logout", data={"csrf": token})
        assert out.status_code == 303
    async with hub.client() as replay:  # the old cookie is dead on the server, not just cleared
        replay.cookies.set("sb_session", issued, domain="127.0.0.1")
        assert (await replay.get("/admin")).status_code == 401
    async with hub.client() as again:  # a second login gets a different token
        await login(again, "owner@example.com")
        assert again.cookies.get("sb_session") not in (None, issued)
    async with hub.live.services.sessions() as session:
        actions = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions.count("login") == 2 and "logout" in actions


async def test_login_throttling_trips(hub: AdminHub) -> None:
    async with hub.client() as http:
        for _ in range(4):
            assert (await login(http, "owner@example.com", "wrong password!")).status_code == 401
        tripped = await login(http, "owner@example.com")  # even the right password waits now
        assert tripped.status_code == 429 and "Too many sign-in attempts" in tripped.text
        assert "sb_session" not in http.cookies
