"""SSO against a loopback https fake Entra authority through the real msal: discovery, authorize (PKCE),
token, JWKS. The right role is granted from group claims; a bad signature, audience or nonce is refused."""

from __future__ import annotations

import html
import re
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from core.embeddings import MiniLMEmbedder
from hub.settings import Settings, SSOSettings
from tests.fakes.entra import FakeEntra, fake_entra
from tests.support.admin import AdminHub, admin_hub

CLIENT_ID = "switchboard-admin-test"
GROUPS = {"g-owners": "owner", "g-alpha-editors": "alpha:editor", "g-beta-viewers": "beta:viewer"}


@dataclass
class SSOWorld:
    hub: AdminHub
    entra: FakeEntra


@pytest.fixture
async def world(tmp_path: Path, embedder: MiniLMEmbedder) -> AsyncIterator[SSOWorld]:
    async with fake_entra(tmp_path, CLIENT_ID) as entra:
        sso = SSOSettings(
            authority=entra.authority,
            client_id=CLIENT_ID,
            client_secret=SecretStr("test-secret"),
            group_roles=GROUPS,
            ca_bundle=entra.cert,
        )
        settings = Settings(data_dir=tmp_path / "var", sso=sso)
        async with admin_hub(settings, embedder) as hub:
            yield SSOWorld(hub, entra)


def posted_form(page: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of an auto-submitting form page."""
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    assert action is not None, page
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
    return html.unescape(action.group(1)), {k: html.unescape(v) for k, v in fields.items()}


async def sign_in(world: SSOWorld, http: httpx.AsyncClient) -> httpx.Response:
    """What a browser does: start, sign in at the authority, which form-posts the reply to our callback,
    whose page relays it (same-site, with the flow cookie) to finish."""
    start = await http.get("/admin/sso/start")
    assert start.status_code == 303, start.text
    authorize_url = start.headers["location"]
    assert authorize_url.startswith(world.entra.authority + "/oauth2/v2.0/authorize")
    assert "code_challenge_method=S256" in authorize_url and "response_mode=form_post" in authorize_url
    trust = ssl.create_default_context(cafile=str(world.entra.cert))
    async with httpx.AsyncClient(verify=trust) as browser_at_idp:
        at_idp = await browser_at_idp.get(authorize_url)
    assert at_idp.status_code == 200, at_idp.text
    callback, reply = posted_form(at_idp.text)
    relay = await http.post(callback, data=reply)
    assert relay.status_code == 200, relay.text
    finish, relayed = posted_form(relay.text)
    assert finish == "/admin/sso/finish" and relayed["code"] == reply["code"]
    return await http.post(finish, data=relayed)


async def test_group_claims_grant_the_mapped_roles(world: SSOWorld) -> None:
    world.entra.user = {
        "oid": "oid-ada",
        "preferred_username": "ada@example.com",
        "groups": ["g-alpha-editors", "g-x"],
    }
    async with world.hub.client() as http:
        done = await sign_in(world, http)
        assert done.status_code == 303 and done.headers["location"] == "/admin", done.text
        assert world.entra.pkce_checked == 1
        dashboard = await http.get("/admin")
        assert (
            "ada@example.com" in dashboard.text and "alpha" in dashboard.text and "beta" not in dashboard.text
        )
        assert (await http.get("/admin/users")).status_code == 403  # not an owner
        assert (await http.get("/admin/w/beta")).status_code == 404
    world.entra.user = {"oid": "oid-ada", "preferred_username": "ada@example.com", "groups": ["g-owners"]}
    async with world.hub.client() as http:  # groups are the truth at every sign-in
        assert (await sign_in(world, http)).status_code == 303
        users = await http.get("/admin/users")
        assert users.status_code == 200 and "ada@example.com" in users.text


async def test_no_mapped_group_no_entry(world: SSOWorld) -> None:
    world.entra.user = {"oid": "oid-bob", "preferred_username": "bob@example.com", "groups": ["g-unknown"]}
    async with world.hub.client() as http:
        refused = await sign_in(world, http)
        assert refused.status_code == 401 and "no role" in refused.text
        assert "sb_session" not in http.cookies


@pytest.mark.parametrize("tamper", ["signature", "audience", "nonce"])
async def test_a_tampered_id_token_is_refused(world: SSOWorld, tamper: str) -> None:
    world.entra.user = {"oid": "oid-eve", "preferred_username": "eve@example.com", "groups": ["g-owners"]}
    world.entra.tamper = tamper  # type: ignore[assignment]
    async with world.hub.client() as http:
        refused = await sign_in(world, http)
        assert refused.status_code == 401, refused.text
        assert "Single sign-on failed" in refused.text
        assert "sb_session" not in http.cookies
        assert (await http.get("/admin")).status_code == 401


async def test_a_callback_without_the_started_flow_is_refused(world: SSOWorld) -> None:
    async with world.hub.client() as http:
        forged = await http.post("/admin/sso/finish", data={"code": "x", "state": "y"})
        assert forged.status_code == 401 and "not started here" in forged.text
