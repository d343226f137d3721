"""A loopback fake of the Bot Framework around a Teams bot: the Bot Connector (where replies go, at the
activity's serviceUrl), the OAuth token endpoint the bot gets its outbound token from, and the OpenID
metadata + JWKS that inbound tokens are checked against, with tokens signed by a test RSA key.

Connector routes follow the Bot Connector REST API (learn.microsoft.com/azure/bot-service/rest-api/
bot-framework-rest-connector-api-reference): ``POST /v3/conversations/{id}/activities[/{replyToId}]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.live import serve

ISSUER = "https://api.botframework.com"
KID = "switchboard-test-key"
ACCESS_TOKEN = "outbound-test-token"


@dataclass
class Sent:
    conversation_id: str
    reply_to: str | None
    activity: dict[str, Any]
    authorization: str


@dataclass
class FakeBotFramework:
    app_id: str
    base_url: str = ""
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    sent: list[Sent] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    endorsements: list[str] = field(default_factory=lambda: ["msteams"])
    kid: str = KID
    metadata_fetches: int = 0

    def rotate(self) -> None:
        """A new signing key under a new kid (what Microsoft does every few weeks)."""
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = f"{KID}-{uuid.uuid4().hex[:6]}"

    @property
    def openid_url(self) -> str:
        return f"{self.base_url}/openid"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    def service_url(self, suffix: str = "amer/") -> str:
        return f"{self.base_url}/{suffix}"

    def token(self, service_url: str, *, key: rsa.RSAPrivateKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": self.app_id, "serviceurl": service_url, "nbf": now - 5}
        body.update(exp=now + 3600, iat=now - 5)
        body.update(claims)
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": self.kid})

    async def metadata(self, request: Request) -> Response:
        self.metadata_fetches += 1
        return JSONResponse({"issuer": ISSUER, "jwks_uri": f"{self.base_url}/jwks"})

    async def jwks(self, request: Request) -> Response:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=self.kid, use="sig", endorsements=self.endorsements)
        return JSONResponse({"keys": [jwk]})

    async def issue(self, request: Request) -> Response:
        form = await request.form()
        self.token_requests.append({k: str(v) for k, v in form.items()})
        if form.get("client_id") != self.app_id or form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "invalid_client"}, 401)
        return JSONResponse({"token_type": "Bearer", "expires_in": 3600, "access_token": ACCESS_TOKEN})

    async def connector(self, request: Request) -> Response:
        raw = request.scope["raw_path"].decode()
        if "/v3/conversations/" not in raw:
            return JSONResponse({"error": "not found"}, 404)
        parts = raw.split("/v3/conversations/", 1)[1].split("?")[0].split("/")
        conversation, reply_to = unquote(parts[0]), (unquote(parts[2]) if len(parts) > 2 else None)
        activity = json.loads(await request.body())
        self.sent.append(Sent(conversation, reply_to, activity, request.headers.get("authorization", "")))
        return JSONResponse({"id": f"{int(time.time() * 1000)}{uuid.uuid4().hex[:4]}"})

    def untyped_attachments(self) -> list[dict[str, Any]]:
        """Attachments sent without the Adaptive Card content type (the bot sends only cards)."""
        return [
            a
            for s in self.sent
            for a in s.activity.get("attachments") or []
            if a.get("contentType") != "application/vnd.microsoft.card.adaptive"
        ]

    def cards(self) -> list[dict[str, Any]]:
        """Every Adaptive Card the bot sent."""
        return [
            a["content"]
            for s in self.sent
            for a in s.activity.get("attachments") or []
            if a.get("contentType") == "application/vnd.microsoft.card.adaptive"
        ]

    async def wait(self, count: int, within_s: float = 30.0) -> None:
        deadline = time.monotonic() + within_s
        while len(self.sent) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {count} replies; got {len(self.sent)}")
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def fake_bot_framework(app_id: str) -> AsyncIterator[FakeBotFramework]:
    fake = FakeBotFramework(app_id)
    app = Starlette(
        routes=[
            Route("/openid", fake.metadata),
            Route("/jwks", fake.jwks),
            Route("/token", fake.issue, methods=["POST"]),
            Route("/{path:path}", fake.connector, methods=["POST"]),
        ]
    )
    async with serve(app) as live:
        fake.base_url = live.base_url
        yield fake
