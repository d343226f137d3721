"""A loopback https fake of a Microsoft Entra ID tenant for OpenID Connect sign-in: discovery, authorize,
token (checks PKCE) and JWKS, with id tokens signed by a test RSA key.

Written from Microsoft's documented v2.0 endpoints (learn.microsoft.com/entra/identity-platform/
v2-protocols-oidc): ``/{tenant}/v2.0/.well-known/openid-configuration``, ``/{tenant}/oauth2/v2.0/authorize``,
``/{tenant}/oauth2/v2.0/token``, ``/{tenant}/discovery/v2.0/keys``; id token claims as in
``id-token-claims-reference`` (``oid``, ``preferred_username``, ``groups``, ``nonce``, ``aud``, ``iss``).
No recorded payload exists in ../shared/fixtures for this flow, so these are built from that schema.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import html
import ipaddress
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.support.live import serve

TENANT = "11111111-2222-3333-4444-555555555555"
KID = "entra-test-key"
Tamper = Literal["signature", "audience", "nonce"] | None


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and its key), as PEM files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "entra-cert.pem", folder / "entra-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str
    claims: dict[str, Any]


@dataclass
class FakeEntra:
    client_id: str
    cert: Path
    base_url: str = ""
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    user: dict[str, Any] = field(default_factory=dict)  # who signs in next: oid, preferred_username, groups
    tamper: Tamper = None
    grants: dict[str, Grant] = field(default_factory=dict)
    pkce_checked: int = 0

    @property
    def authority(self) -> str:
        return f"{self.base_url}/{TENANT}"

    @property
    def issuer(self) -> str:
        return f"{self.authority}/v2.0"

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": grant.client_id,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "nonce": grant.nonce,
            "tid": TENANT,
            "sub": grant.claims["oid"],
            **grant.claims,
        }
        key = self.key
        if self.tamper == "audience":
            claims["aud"] = "some-other-app"
        if self.tamper == "nonce":
            claims["nonce"] = hashlib.sha256(b"replayed").hexdigest()
        if self.tamper == "signature":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.authority}/oauth2/v2.0/authorize",
                "token_endpoint": f"{self.authority}/oauth2/v2.0/token",
                "jwks_uri": f"{self.authority}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
            }
        )

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return JSONResponse({"error": "invalid_request", "error_description": "PKCE required"}, 400)
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(
            q["client_id"], q["redirect_uri"], q.get("nonce", ""), q["code_challenge"], dict(self.user)
        )
        reply = {"code": code, "state": q.get("state", ""), "session_state": "s"}
        if q.get("response_mode") == "form_post":  # an auto-submitting form, as Entra serves it
            fields = "".join(
                f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in reply.items()
            )
            return HTMLResponse(
                f'<form method="post" action="{html.escape(q["redirect_uri"])}">{fields}</form>'
            )
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode(reply)}", status_code=302)

    async def token(self, request: Request) -> Response:
        form = await request.form()
        grant = self.grants.pop(str(form.get("code", "")), None)
        if grant is None or form.get("redirect_uri") != grant.redirect_uri:
            return JSONResponse({"error": "invalid_grant", "error_description": "bad code"}, 400)
        digest = hashlib.sha256(str(form.get("code_verifier", "")).encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "PKCE verification failed"}, 400
            )
        self.pkce_checked += 1
        return JSONResponse(
            {
                "token_type": "Bearer",
                "scope": "openid profile email",
                "expires_in": 3600,
                "access_token": secrets.token_urlsafe(24),
                "id_token": self.id_token(grant),
            }
        )

    async def keys(self, request: Request) -> Response:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return JSONResponse({"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]})

    def app(self) -> Starlette:
        prefix = "/{tenant}"
        return Starlette(
            routes=[
                Route(f"{prefix}/v2.0/.well-known/openid-configuration", self.discovery),
                Route(f"{prefix}/oauth2/v2.0/authorize", self.authorize),
                Route(f"{prefix}/oauth2/v2.0/token", self.token, methods=["POST"]),
                Route(f"{prefix}/discovery/v2.0/keys", self.keys),
            ]
        )


@contextlib.asynccontextmanager
async def fake_entra(folder: Path, client_id: str) -> AsyncIterator[FakeEntra]:
    cert, key = self_signed(folder)
    fake = FakeEntra(client_id, cert)
    async with serve(fake.app(), ssl_certfile=str(cert), ssl_keyfile=str(key)) as live:
        fake.base_url = live.base_url
        yield fake
