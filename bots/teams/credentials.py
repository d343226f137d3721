"""Outbound credentials for replies to the Bot Connector: an OAuth2 client-credentials token, fetched
asynchronously and cached until shortly before it expires.

botbuilder's own ``MicrosoftAppCredentials`` fetches tokens with synchronous msal calls from inside the
async connector pipeline (blocking the event loop) and only against an https authority; this factory
fetches in ``create_credentials`` (async) and hands the connector a ready token. The token endpoint is
configurable (single-tenant bots, sovereign clouds, loopback fakes in tests).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx
from botframework.connector.auth import AppCredentials, ServiceClientCredentialsFactory

from core.errors import AuthError

LOGIN = "https://login.microsoftonline.com"
DEFAULT_TENANT = "botframework.com"
EXPIRY_MARGIN_S = 120


def token_url_for(tenant_id: str | None) -> str:
    return f"{LOGIN}/{tenant_id or DEFAULT_TENANT}/oauth2/v2.0/token"


class BearerCredentials(AppCredentials):  # type: ignore[misc]
    """Credentials that carry an already fetched token (no I/O when the connector signs a request)."""

    def __init__(self, app_id: str, token: str) -> None:
        super().__init__(app_id=app_id)
        self._token = token

    def get_access_token(self, force_refresh: bool = False) -> str:
        return self._token


@dataclass
class ClientCredentialsFactory(ServiceClientCredentialsFactory):  # type: ignore[misc]
    app_id: str
    password: str
    token_url: str
    http: httpx.AsyncClient
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # scope -> (token, expires at)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def is_valid_app_id(self, app_id: str) -> bool:
        return app_id == self.app_id

    async def is_authentication_disabled(self) -> bool:
        return not self.app_id

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> AppCredentials:
        if app_id != self.app_id:
            raise AuthError("unknown app id")
        return BearerCredentials(app_id, await self.token(oauth_scope))

    async def token(self, scope: str) -> str:
        async with self._lock:
            cached = self._tokens.get(scope)
            if cached and cached[1] > time.monotonic():
                return cached[0]
            response = await self.http.post(
                self.token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.app_id,
                    "client_secret": self.password,
                    "scope": f"{scope.rstrip('/')}/.default",
                },
            )
            response.raise_for_status()
            body = response.json()
            expires = time.monotonic() + float(body.get("expires_in", 3600)) - EXPIRY_MARGIN_S
            self._tokens[scope] = (str(body["access_token"]), expires)
            return str(body["access_token"])
