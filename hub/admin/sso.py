"""Single sign-on with Microsoft Entra ID through msal: OpenID Connect auth code flow with PKCE.

msal builds the authorize URL (state, nonce, PKCE), checks the state and the nonce on the way back and
redeems the code. msal no longer validates the id token itself, so we do: signature against the
authority's JWKS, audience = our client id, issuer from discovery, expiry. Group claims map to roles
(``SWITCHBOARD_SSO__GROUP_ROLES``); the groups are the truth at every sign-in.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import jwt
import msal
import requests
from cryptography.fernet import InvalidToken
from fastapi import HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from core import accounts, audit
from core.errors import SwitchboardError
from core.models import ROLES
from core.tables import Workspace
from hub.admin import auth
from hub.container import Services
from hub.settings import SSOSettings

FLOW_COOKIE = "sb_sso_flow"
FLOW_TTL_S = 600


class SSOFailed(Exception):
    """The sign-in could not be completed; the message is safe to show."""


def http_session(settings: SSOSettings) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.headers["Connection"] = "close"  # sign-ins are rare: hold no idle connection to the authority
    if settings.ca_bundle is not None:
        session.verify = str(settings.ca_bundle)
    return session


def client(services: Services, state: Any) -> msal.ConfidentialClientApplication:
    """One msal app per process (it caches discovery), built on first use."""
    existing = getattr(state, "sso_client", None)
    if existing is not None:
        return existing
    cfg = services.settings.sso
    app = msal.ConfidentialClientApplication(
        cfg.client_id,
        client_credential=cfg.client_secret.get_secret_value() or None,
        authority=cfg.authority,
        instance_discovery=False,
        http_client=http_session(cfg),
    )
    state.sso_client = app
    return app


async def start(request: Request, services: Services) -> Response:
    if not services.settings.sso.client_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="single sign-on is not configured")
    app = await asyncio.to_thread(client, services, request.app.state)
    redirect_uri = str(request.url_for("sso_callback"))
    flow = await asyncio.to_thread(
        app.initiate_auth_code_flow, [], redirect_uri=redirect_uri, response_mode="form_post"
    )
    response = RedirectResponse(flow["auth_uri"], status_code=303)
    sealed = services.fernet.encrypt(json.dumps(flow).encode()).decode()
    response.set_cookie(
        FLOW_COOKIE,
        sealed,
        max_age=FLOW_TTL_S,
        path="/admin/sso",
        httponly=True,
        samesite="lax",
        secure=auth.secure(request),
    )
    return response


def unseal(services: Services, sealed: str | None) -> dict[str, Any]:
    if not sealed:
        raise SSOFailed("the sign-in was not started here (or took too long)")
    try:
        flow: dict[str, Any] = json.loads(services.fernet.decrypt(sealed.encode(), ttl=FLOW_TTL_S))
    except (InvalidToken, ValueError) as exc:
        raise SSOFailed("the sign-in was not started here (or took too long)") from exc
    return flow


def redeem(
    app: msal.ConfidentialClientApplication, flow: dict[str, Any], reply: dict[str, str]
) -> dict[str, Any]:
    try:
        result: dict[str, Any] = app.acquire_token_by_auth_code_flow(flow, reply)
    except (ValueError, RuntimeError) as exc:  # state or nonce mismatch
        raise SSOFailed(str(exc).split("\n")[0][:200]) from exc
    if "error" in result or "id_token" not in result:
        raise SSOFailed(str(result.get("error_description") or result.get("error") or "no id token"))
    return result


def verify_id_token(settings: SSOSettings, id_token: str) -> dict[str, Any]:
    """Signature (JWKS), audience, issuer and expiry of the id token, from the authority's discovery."""
    http = http_session(settings)
    try:
        discovery = http.get(
            f"{settings.authority.rstrip('/')}/v2.0/.well-known/openid-configuration", timeout=10
        )
        discovery.raise_for_status()
        meta = discovery.json()
        keys = http.get(meta["jwks_uri"], timeout=10)
        keys.raise_for_status()
        jwks = jwt.PyJWKSet.from_dict(keys.json())
        kid = jwt.get_unverified_header(id_token).get("kid")
        key = next((k for k in jwks.keys if k.key_id == kid), None)
        if key is None:
            raise SSOFailed("the id token is signed by an unknown key")
        claims: dict[str, Any] = jwt.decode(
            id_token, key.key, algorithms=["RS256"], audience=settings.client_id, issuer=meta["issuer"]
        )
    except (requests.RequestException, KeyError, ValueError, jwt.PyJWTError) as exc:
        raise SSOFailed(f"the id token is not valid ({type(exc).__name__})") from exc
    finally:
        http.close()
    return claims


def roles_from_groups(settings: SSOSettings, groups: list[str]) -> tuple[bool, dict[str, str]]:
    """(owner?, {workspace: highest role}) from the id token's group ids."""
    owner, roles = False, dict[str, str]()
    for group in groups:
        target = settings.group_roles.get(group)
        if target == "owner":
            owner = True
        elif target and ":" in target:
            workspace, role = target.split(":", 1)
            if role in ROLES and ROLES.index(role) >= ROLES.index(roles.get(workspace, "viewer")):
                roles[workspace] = role
    return owner, roles


REPLY_FIELDS = ("code", "state", "session_state", "error", "error_description")


async def reply_of(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: str(form[k])[:4096] for k in REPLY_FIELDS if k in form}


async def finish(request: Request, services: Services) -> str:
    """Complete the sign-in from the relayed authorization reply; returns a new session token."""
    cfg = services.settings.sso
    if not cfg.client_id:
        raise SSOFailed("single sign-on is not configured")
    flow = unseal(services, request.cookies.get(FLOW_COOKIE))
    app = await asyncio.to_thread(client, services, request.app.state)
    result = await asyncio.to_thread(redeem, app, flow, await reply_of(request))
    claims = await asyncio.to_thread(verify_id_token, cfg, result["id_token"])
    return await admit(services, claims)


async def admit(services: Services, claims: dict[str, Any]) -> str:
    cfg = services.settings.sso
    subject = str(claims.get("oid") or claims.get("sub") or "")
    email = str(claims.get("preferred_username") or claims.get("email") or "")
    groups = [str(g) for g in claims.get("groups") or []]
    owner, roles = roles_from_groups(cfg, groups)
    if not subject or not email or not (owner or roles):
        raise SSOFailed("your account has no role in Switchboard (ask an owner to map your group)")
    async with services.sessions.begin() as session:
        try:
            user = await accounts.sso_user(session, subject, email)
        except SwitchboardError as exc:
            raise SSOFailed(str(exc)) from exc
        user.is_owner = owner
        for workspace in await session.scalars(select(Workspace)):
            await accounts.set_role(session, user, workspace, roles.get(workspace.name))
        token, _ = await accounts.start_session(session, user, auth.session_lifetime(services))
        detail = {"method": "sso", "groups": groups, "owner": owner, "roles": roles}
        audit.append(session, audit.Entry(actor=user.email, action="login", detail=detail))
    return token
