"""Inbound Bot Framework JWTs, checked with PyJWT: signature (keys from the OpenID metadata), issuer,
audience (our app id), expiry with the standard 5-minute clock skew, the ``serviceurl`` claim against the
activity's serviceUrl, and the signing key's endorsement for the channel (``msteams``).

Keys are fetched with an async client at start-up and refreshed in the background; a token signed by a
key we have never seen triggers at most one refresh a minute (single flight), never a blocking fetch.
Every failure is an ``AuthError`` (the hub answers 401).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from core.errors import AuthError

BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
PUBLIC_OPENID_METADATA = "https://login.botframework.com/v1/.well-known/openidconfiguration"
CLOCK_SKEW_S = 300
REFRESH_EVERY_S = 24 * 3600
MISS_REFRESH_S = 60.0


@dataclass(frozen=True, slots=True)
class SigningKey:
    key: Any
    endorsements: frozenset[str]


@dataclass
class KeySet:
    """The OpenID metadata's signing keys by ``kid``, cached and refreshed off the request path."""

    metadata_url: str
    http: httpx.AsyncClient
    keys: dict[str, SigningKey] = field(default_factory=dict)
    fetched_at: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def refresh(self) -> None:
        async with self._lock:
            metadata = (await self.http.get(self.metadata_url)).raise_for_status().json()
            jwks = (await self.http.get(str(metadata["jwks_uri"]))).raise_for_status().json()
            self.keys = {k["kid"]: signing_key(k) for k in jwks.get("keys", []) if k.get("kid")}
            self.fetched_at = time.monotonic()

    async def get(self, kid: str) -> SigningKey:
        if kid not in self.keys and time.monotonic() - self.fetched_at > MISS_REFRESH_S:
            with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                await self.refresh()
        found = self.keys.get(kid)
        if found is None:
            raise AuthError("the token is signed by an unknown key")
        return found

    async def keep_fresh(self) -> None:
        """Run as a background task: refresh daily (and retry every minute while it fails)."""
        while True:
            try:
                await self.refresh()
                await asyncio.sleep(REFRESH_EVERY_S)
            except (httpx.HTTPError, ValueError, KeyError):
                await asyncio.sleep(MISS_REFRESH_S)


def signing_key(jwk: dict[str, Any]) -> SigningKey:
    return SigningKey(jwt.PyJWK.from_json(json.dumps(jwk)).key, frozenset(jwk.get("endorsements") or ()))


@dataclass(frozen=True)
class TokenValidator:
    app_id: str
    keys: KeySet
    issuer: str = BOT_FRAMEWORK_ISSUER

    async def validate(self, auth_header: str, channel_id: str, service_url: str) -> dict[str, Any]:
        """The token's claims, or AuthError. Malformed tokens raise PyJWTError inside: mapped here."""
        scheme, _, token = auth_header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("missing bearer token")
        try:
            header = jwt.get_unverified_header(token.strip())
            key = await self.keys.get(str(header.get("kid", "")))
            claims: dict[str, Any] = jwt.decode(
                token.strip(),
                key.key,
                algorithms=["RS256"],
                audience=self.app_id,
                issuer=self.issuer,
                leeway=CLOCK_SKEW_S,
                options={"require": ["exp", "iss", "aud"]},
            )
        except (jwt.PyJWTError, PermissionError, ValueError) as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        if channel_id not in key.endorsements:
            raise AuthError(f"the signing key is not endorsed for channel {channel_id!r}")
        if claims.get("serviceurl") != service_url:
            raise AuthError("the token's serviceurl claim does not match the activity")
        return claims
