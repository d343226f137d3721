"""A loopback https fake of Microsoft Graph drive delta and of the Microsoft identity platform (msal).

Replays ../shared/fixtures/graph: items are shaped like ``driveitem_file.json`` (files) and like the
folder / ``deleted`` items of ``drive_delta_page1.json``; pages carry ``@odata.nextLink`` and the last one
``@odata.deltaLink`` as in ``drive_delta_page1/final.json``; the token reply is ``token_response.json``.
The OpenID configuration msal reads first, the permissions list and the token error body have no
fixture: they are written from the documented schemas (learn.microsoft.com: OIDC discovery document,
driveItem list-permissions, and the AADSTS error response). Served over https with a self-signed
certificate, because msal accepts only an https authority.
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.conftest import FIXTURES
from tests.support.live import serve
from tests.support.tls import SelfSigned

GRAPH = FIXTURES / "graph"
TOKEN = "fake-graph-token"


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((GRAPH / name).read_text())
    return loaded


@dataclass
class DriveFile:
    id: str
    name: str
    data: bytes
    permissions: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 0
    deleted: bool = False
    folder: bool = False


def granted_group(name: str) -> dict[str, Any]:
    return {
        "id": f"perm-{name}",
        "roles": ["read"],
        "grantedToV2": {"group": {"id": f"g-{name}", "displayName": name}},
    }


def granted_user(email: str) -> dict[str, Any]:
    user = {"id": f"u-{email}", "displayName": email.split("@", maxsplit=1)[0], "email": email}
    return {"id": f"perm-{email}", "roles": ["write"], "grantedToV2": {"user": user}}


def org_link() -> dict[str, Any]:
    return {"id": "perm-link", "roles": ["read"], "link": {"scope": "organization", "type": "view"}}


@dataclass
class FakeGraph:
    base_url: str = ""
    tenant: str = "contoso"
    client_secret: str = "s3cret"
    drive: str = "b!drive1"
    page_size: int = 2
    files: dict[str, DriveFile] = field(default_factory=dict)
    seq: int = 0
    requests: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # monotonic time of each Graph request
    tokens_issued: int = 0
    throttle: int = 0  # the next N Graph calls answer 429 with Retry-After
    retry_after: str = "1"
    expire_before: int = 0  # delta tokens older than this answer 410 Gone (resyncRequired)

    def put(
        self, item_id: str, name: str, data: bytes, permissions: list[dict[str, Any]] | None = None
    ) -> None:
        self.seq += 1
        self.files[item_id] = DriveFile(item_id, name, data, permissions or [], self.seq)

    def folder(self, item_id: str, name: str) -> None:
        self.seq += 1
        self.files[item_id] = DriveFile(item_id, name, b"", [], self.seq, folder=True)

    def delete(self, item_id: str) -> None:
        self.seq += 1
        self.files[item_id].deleted = True
        self.files[item_id].seq = self.seq

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/v1.0"

    def item(self, f: DriveFile) -> dict[str, Any]:
        if f.deleted:
            return {"id": f.id, "name": f.name, "deleted": {}}
        if f.folder:
            return {"id": f.id, "name": f.name, "folder": {}}
        body = copy.deepcopy(fixture("driveitem_file.json"))
        body.update(
            id=f.id, name=f.name, size=len(f.data), webUrl=f"https://contoso.sharepoint.com/docs/{f.name}"
        )
        body["@microsoft.graph.downloadUrl"] = f"{self.base_url}/download/{f.id}"
        body["file"]["mimeType"] = "text/plain"
        body["lastModifiedDateTime"] = f"2026-01-05T10:{f.seq:02d}:00Z"
        return body

    # --- identity platform (msal) ---
    async def openid(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        root = f"{self.base_url}/{tenant}"
        return JSONResponse(
            {
                "token_endpoint": f"{root}/oauth2/v2.0/token",
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "issuer": f"{root}/v2.0",
                "jwks_uri": f"{root}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "token"],
            }
        )

    async def token(self, request: Request) -> Response:
        form = await request.form()
        if form.get("client_secret") != self.client_secret or request.path_params["tenant"] != self.tenant:
            return JSONResponse(
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                    "error_codes": [7000215],
                },
                401,
            )
        self.tokens_issued += 1
        body = fixture("token_response.json")
        body["access_token"] = TOKEN
        return JSONResponse(body)

    # --- Graph ---
    def gate(self, request: Request) -> Response | None:
        self.requests.append(str(request.url))
        self.times.append(time.monotonic())
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"error": {"code": "InvalidAuthenticationToken"}}, 401)
        if self.throttle > 0:
            self.throttle -= 1
            return JSONResponse(
                {"error": {"code": "TooManyRequests", "message": "throttled"}},
                429,
                headers={"Retry-After": self.retry_after},
            )
        return None

    async def delta(self, request: Request) -> Response:
        refused = self.gate(request)
        if refused is not None:
            return refused
        token = request.query_params.get("token", "")
        since, offset = 0, 0
        if token.startswith("d:"):
            since = int(token[2:])
            if since < self.expire_before:
                return JSONResponse({"error": {"code": "resyncRequired", "message": "token expired"}}, 410)
        elif token.startswith("n:"):
            since, offset = (int(part) for part in token[2:].split(":"))
        changed = sorted((f for f in self.files.values() if f.seq > since), key=lambda f: f.seq)
        if since == 0:
            changed = [f for f in changed if not f.deleted]
        window = changed[offset : offset + self.page_size]
        link = f"{self.graph_url}/drives/{self.drive}/root/delta?token="
        body: dict[str, Any] = {"value": [self.item(f) for f in window]}
        if offset + self.page_size < len(changed):
            body["@odata.nextLink"] = f"{link}n:{since}:{offset + self.page_size}"
        else:
            body["@odata.deltaLink"] = f"{link}d:{self.seq}"
        return JSONResponse(body)

    async def content(self, request: Request) -> Response:
        refused = self.gate(request)
        if refused is not None:
            return refused
        return RedirectResponse(f"{self.base_url}/download/{request.path_params['item']}", 302)

    async def download(self, request: Request) -> Response:
        found = self.files.get(request.path_params["item"])
        if found is None or request.headers.get("authorization"):  # pre-authenticated URL: no bearer
            return Response(status_code=404 if found is None else 400)
        return Response(found.data, media_type="text/plain")

    async def permissions(self, request: Request) -> Response:
        refused = self.gate(request)
        if refused is not None:
            return refused
        found = self.files.get(request.path_params["item"])
        if found is None:
            return JSONResponse({"error": {"code": "itemNotFound"}}, 404)
        return JSONResponse({"value": found.permissions})


@contextlib.asynccontextmanager
async def fake_graph(tls: SelfSigned) -> AsyncIterator[FakeGraph]:
    fake = FakeGraph()
    app = Starlette(
        routes=[
            Route("/{tenant}/v2.0/.well-known/openid-configuration", fake.openid),
            Route("/{tenant}/oauth2/v2.0/token", fake.token, methods=["POST"]),
            Route("/v1.0/drives/{drive}/root/delta", fake.delta),
            Route("/v1.0/drives/{drive}/items/{item}/content", fake.content),
            Route("/v1.0/drives/{drive}/items/{item}/permissions", fake.permissions),
            Route("/download/{item}", fake.download),
        ]
    )
    async with serve(app, tls) as live:
        fake.base_url = live.base_url
        yield fake
