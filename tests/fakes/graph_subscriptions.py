"""A loopback fake of Graph subscriptions, replaying ../shared/fixtures/graph/subscription_created.json.

``POST /subscriptions`` answers 201 with the fixture, its id, resource, clientState, notificationUrl and
expiry taken from the request (as Graph echoes them); ``PATCH /subscriptions/{id}`` renews a known one
(200, the expiry updated) or answers 404 for one Graph no longer has. It validates the notification URL
first, as Graph does: a POST with ``?validationToken=`` that must echo the token as text/plain.
"""

from __future__ import annotations

import contextlib
import copy
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import FIXTURES
from tests.support.live import serve

CREATED = json.loads((FIXTURES / "graph" / "subscription_created.json").read_text())


@dataclass
class FakeGraphSubscriptions:
    base_url: str = ""
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    tokens: list[str] = field(default_factory=list)

    async def create(self, request: Request) -> Response:
        self.calls.append(("POST", "/subscriptions"))
        self.tokens.append(request.headers.get("authorization", ""))
        wanted = await request.json()
        token = uuid.uuid4().hex
        async with httpx.AsyncClient(trust_env=False) as http:  # Graph validates the endpoint first
            check = await http.post(wanted["notificationUrl"], params={"validationToken": token})
        if (
            check.status_code != 200
            or check.text != token
            or not check.headers["content-type"].startswith("text/plain")
        ):
            return JSONResponse({"error": {"code": "InvalidRequest", "message": "validation failed"}}, 400)
        body = copy.deepcopy(CREATED)
        body.update(
            {
                k: wanted[k]
                for k in ("resource", "changeType", "clientState", "notificationUrl", "expirationDateTime")
            }
        )
        body["id"] = str(uuid.uuid4())
        self.subscriptions[body["id"]] = body
        return JSONResponse(body, 201)

    async def renew(self, request: Request) -> Response:
        sid = request.path_params["sid"]
        self.calls.append(("PATCH", f"/subscriptions/{sid}"))
        if sid not in self.subscriptions:
            return JSONResponse({"error": {"code": "ResourceNotFound"}}, 404)
        self.subscriptions[sid]["expirationDateTime"] = (await request.json())["expirationDateTime"]
        return JSONResponse(self.subscriptions[sid])


@contextlib.asynccontextmanager
async def fake_graph_subscriptions() -> AsyncIterator[FakeGraphSubscriptions]:
    fake = FakeGraphSubscriptions()
    app = Starlette(
        routes=[
            Route("/v1.0/subscriptions", fake.create, methods=["POST"]),
            Route("/v1.0/subscriptions/{sid}", fake.renew, methods=["PATCH"]),
        ]
    )
    async with serve(app) as live:
        fake.base_url = live.base_url
        yield fake
