"""Outbound webhooks end to end: the real app and a real arq worker on real Redis deliver signed events
to a loopback receiver (allowed by setting) that verifies each signature and fails on purpose twice;
the delivery log shows every attempt. Private targets are refused by default, DNS rebinding included."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from standardwebhooks.webhooks import Webhook

from core import apikeys, workspaces
from core.embeddings import MiniLMEmbedder
from core.events import BudgetExceeded
from hub.app import create_app
from hub.settings import JobSettings, OutboundWebhookSettings, Settings
from tests.support.live import LiveApp, serve
from tests.support.workers import flush, running_worker
from webhooks.outbound import TargetGuard, TargetRefused, pinned_request


@dataclass
class Receiver:
    """A loopback webhook receiver: answers 500 to the first ``failures`` requests, then 200."""

    secret: str = ""
    failures: int = 2
    seen: list[dict[str, Any]] = field(default_factory=list)
    verified: list[Any] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
            headers = dict(request.headers)
            self.seen.append(headers)
            if len(self.seen) <= self.failures:
                return Response(status_code=500, content="scripted failure")
            self.verified.append(Webhook(self.secret).verify(body, headers))
            return Response(status_code=204)

        return app


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class World:
    live: LiveApp
    http: httpx.AsyncClient
    admin: str
    viewer: str


async def open_world(settings: Settings, embedder: MiniLMEmbedder) -> AsyncIterator[World]:
    async with serve(create_app(settings, embedder=embedder)) as live:
        async with live.services.sessions.begin() as session:
            alpha = await workspaces.create(session, "alpha")
            _, admin = await apikeys.create(session, alpha, "admin")
            _, viewer = await apikeys.create(session, alpha, "viewer")
        async with (
            running_worker(settings, embedder),
            httpx.AsyncClient(base_url=live.base_url, timeout=30) as http,
        ):
            yield World(live, http, admin, viewer)


def base_settings(tmp_path: Path, redis_url: str, chroma_server: str, *, allow: bool) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        redis_url=redis_url,
        chroma_url=chroma_server,
        webhooks=OutboundWebhookSettings(allow_private_targets=allow, timeout_s=5),
        jobs=JobSettings(retry_base_s=0.2, retry_max_s=1, max_tries=5),
    )


@pytest.fixture
async def world(
    tmp_path: Path, redis_url: str, chroma_server: str, embedder: MiniLMEmbedder
) -> AsyncIterator[World]:
    await flush(redis_url)
    async for opened in open_world(base_settings(tmp_path, redis_url, chroma_server, allow=True), embedder):
        yield opened


async def wait_for(check: Any, timeout_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)


async def delivery_log(world: World, sub_id: int, *, rows: int) -> list[dict[str, Any]]:
    """The delivery log once it has ``rows`` rows (or whatever it has after 10 s)."""
    url = f"/api/v1/workspaces/alpha/webhooks/{sub_id}/deliveries"
    log: list[dict[str, Any]] = []
    for _ in range(100):
        log = (await world.http.get(url, headers=auth(world.admin))).json()
        if len(log) >= rows:
            break
        await asyncio.sleep(0.1)
    return log


async def test_signed_delivery_is_retried_with_backoff_and_logged(world: World) -> None:
    receiver = Receiver()
    async with serve(receiver.app()) as sink:
        created = await world.http.post(
            "/api/v1/workspaces/alpha/webhooks",
            json={"url": f"{sink.base_url}/hook", "events": ["budget.reached"]},
            headers=auth(world.admin),
        )
        assert created.status_code == 201, created.text
        sub = created.json()
        receiver.secret = sub["secret"]
        assert sub["secret"].startswith("whsec_")
        await world.live.services.events.publish(BudgetExceeded("alpha", "2026-11", 12.5, 10.0))
        await wait_for(lambda: receiver.verified)

    assert len(receiver.seen) == 3  # two scripted failures, then the delivery
    assert len({h["webhook-id"] for h in receiver.seen}) == 1  # one message id across attempts
    message = receiver.verified[0]
    assert message["type"] == "budget.reached"
    assert message["data"] == {
        "workspace": "alpha",
        "month": "2026-11",
        "spent_usd": 12.5,
        "budget_usd": 10.0,
    }

    log = await delivery_log(world, sub["id"], rows=3)  # the last row is written after the answer
    assert [(d["attempt"], d["status"], d["status_code"]) for d in reversed(log)] == [
        (1, "failed", 500),
        (2, "failed", 500),
        (3, "delivered", 204),
    ]
    listed = await world.http.get("/api/v1/workspaces/alpha/webhooks", headers=auth(world.admin))
    assert "secret" not in listed.json()[0]
    forbidden = await world.http.get("/api/v1/workspaces/alpha/webhooks", headers=auth(world.viewer))
    assert forbidden.status_code == 403


async def test_unsubscribed_events_are_not_sent_and_bad_subscriptions_are_refused(world: World) -> None:
    receiver = Receiver(failures=0)
    async with serve(receiver.app()) as sink:
        created = await world.http.post(
            "/api/v1/workspaces/alpha/webhooks",
            json={"url": f"{sink.base_url}/hook", "events": ["sync.completed"]},
            headers=auth(world.admin),
        )
        assert created.status_code == 201
        await world.live.services.events.publish(BudgetExceeded("alpha", "2026-11", 1, 1))
        await asyncio.sleep(1.0)
        assert receiver.seen == []
    for body in (
        {"url": "ftp://example.com/x", "events": ["sync.completed"]},
        {"url": "https://example.com/x", "events": ["nope"]},
        {"url": "https://user:pw@example.com/x", "events": ["sync.failed"]},
    ):
        refused = await world.http.post(
            "/api/v1/workspaces/alpha/webhooks", json=body, headers=auth(world.admin)
        )
        assert refused.status_code == 422, body


async def test_private_targets_are_refused_by_default(
    tmp_path: Path, redis_url: str, chroma_server: str, embedder: MiniLMEmbedder
) -> None:
    await flush(redis_url)
    settings = base_settings(tmp_path, redis_url, chroma_server, allow=False)
    receiver = Receiver(failures=0)
    async for world in open_world(settings, embedder):
        async with serve(receiver.app()) as sink:
            literal = await world.http.post(
                "/api/v1/workspaces/alpha/webhooks",
                json={"url": f"{sink.base_url}/hook", "events": ["budget.reached"]},
                headers=auth(world.admin),
            )
            assert literal.status_code == 422
            assert "private" in literal.json()["detail"]
            port = sink.base_url.rsplit(":", 1)[1]
            by_name = await world.http.post(  # a name resolving to loopback passes syntax, fails at delivery
                "/api/v1/workspaces/alpha/webhooks",
                json={"url": f"http://localhost:{port}/hook", "events": ["budget.reached"]},
                headers=auth(world.admin),
            )
            assert by_name.status_code == 201
            sub_id = by_name.json()["id"]
            await world.live.services.events.publish(BudgetExceeded("alpha", "2026-11", 1, 1))
            log = await delivery_log(world, sub_id, rows=1)
            assert [d["status"] for d in log] == ["refused"]
            assert receiver.seen == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://10.1.2.3/x",
        "http://192.168.0.1/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://[fe80::1]/x",
        "http://0.0.0.0/x",
        "http://localhost/x",
    ],
)
async def test_guard_refuses_non_public_addresses(url: str) -> None:
    with pytest.raises(TargetRefused):
        await TargetGuard().resolve(url)


async def test_guard_connects_to_the_address_it_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: the first answer is public, later ones loopback; only the first is ever used."""
    answers = iter(["93.184.216.34", "127.0.0.1", "127.0.0.1"])

    async def rebinding(self: Any, host: str, port: int, **_: Any) -> list[Any]:
        return [(2, 1, 6, "", (next(answers), port))]

    monkeypatch.setattr(asyncio.get_running_loop().__class__, "getaddrinfo", rebinding)
    target = await TargetGuard().resolve("https://hooks.example.com/x")
    assert ipaddress.ip_address(target.ip).is_global
    request = pinned_request(target, "{}", {})
    assert request.url.host == "93.184.216.34"
    assert request.headers["host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    with pytest.raises(TargetRefused):
        await TargetGuard().resolve("https://hooks.example.com/x")  # a second lookup now says loopback
