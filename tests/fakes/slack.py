"""A loopback fake of the Slack Web API (and of response_url), replaying ../shared/fixtures/slack.

A real HTTP server (Starlette under uvicorn on 127.0.0.1) that the real slack_sdk AsyncWebClient and
AsyncWebhookClient talk to. It records every call, checks every message against Block Kit limits, and
can answer the next calls of a method with 429 + Retry-After.

``conversations.info``, ``chat.postEphemeral`` and ``oauth.v2.access`` have no fixture in shared/: their
replies are written from Slack's documented schemas (docs.slack.dev/reference/methods/conversations.info,
chat.postEphemeral, oauth.v2.access); so are the ``bot_id``/``team_id`` of ``auth.test`` for a bot token
of an OAuth install (docs.slack.dev/reference/methods/auth.test).
Channel history: ``conversations.history`` / ``conversations.replies`` replay the fixtures' envelopes
(``has_more``, ``response_metadata.next_cursor``) over messages a test adds; ``chat.getPermalink`` and
``conversations.members`` are written from their documented schemas.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import FIXTURES
from tests.support.blockkit import violations
from tests.support.live import serve

SLACK = FIXTURES / "slack"
MESSAGE_METHODS = {"chat.postMessage", "chat.postEphemeral"}
HISTORY_METHODS = {
    "conversations.history",
    "conversations.replies",
    "conversations.members",
    "chat.getPermalink",
}


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SLACK / name).read_text())
    return loaded


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    authorization: str = ""  # the Authorization header (the token the call was made with)


@dataclass(frozen=True)
class Install:
    """What ``oauth.v2.access`` grants for one OAuth ``code``: a bot token for one team."""

    team_id: str
    bot_token: str
    bot_user_id: str = "UBOTINSTALL"
    bot_id: str = "BINSTALL1"
    installer: str = "UINSTALLER"


@dataclass
class FakeSlack:
    base_url: str = ""
    calls: list[Call] = field(default_factory=list)
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # response_url key -> bodies
    shared_channels: set[str] = field(default_factory=set)
    hidden_channels: set[str] = field(default_factory=set)
    emails: dict[str, str] = field(default_factory=dict)
    throttle: dict[str, int] = field(default_factory=dict)  # method -> how many next calls get 429
    block_kit_violations: list[str] = field(default_factory=list)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel -> parents, oldest first
    threads: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)  # replies by parent
    private_channels: set[str] = field(default_factory=set)
    members: dict[str, list[str]] = field(default_factory=dict)
    installs: dict[str, Install] = field(default_factory=dict)  # OAuth code -> what it grants

    def post(
        self, channel: str, ts: str, text: str, user: str = "U061F7AUR", replies: tuple[str, ...] = ()
    ) -> None:
        """Add a channel message (and its thread replies, one second apart) to the fake's history."""
        parent = {
            **fixture("conversations_history.json")["messages"][0],
            "ts": ts,
            "text": text,
            "user": user,
        }
        if replies:
            parent.update(thread_ts=ts, reply_count=len(replies))
            self.threads[(channel, ts)] = [
                {"type": "message", "user": user, "text": r, "thread_ts": ts, "parent_user_id": user,
                 "ts": f"{float(ts) + n + 1:.6f}"}
                for n, r in enumerate(replies)
            ]  # fmt: skip
        self.history.setdefault(channel, []).append(parent)

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def response_url(self, key: str) -> str:
        return f"{self.base_url}/response/{key}"

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def messages(self) -> list[dict[str, Any]]:
        """Everything shown to users: posted messages and response_url bodies."""
        posted = [c.params for c in self.calls if c.method in MESSAGE_METHODS]
        return posted + [body for bodies in self.responses.values() for body in bodies]

    async def wait(self, predicate: Any, within_s: float = 30.0) -> None:
        deadline = time.monotonic() + within_s
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; calls: {[c.method for c in self.calls]}, {self.responses}")
            await asyncio.sleep(0.05)

    def check(self, message: dict[str, Any], where: str) -> None:
        self.block_kit_violations += [f"{where}: {v}" for v in violations(message)]

    async def api(self, request: Request) -> Response:
        method = request.path_params["method"]
        params = {**request.query_params, **await body_of(request)}
        self.calls.append(Call(method, params, request.headers.get("authorization", "")))
        if self.throttle.get(method, 0) > 0:
            self.throttle[method] -= 1
            return JSONResponse({"ok": False, "error": "ratelimited"}, 429, headers={"Retry-After": "1"})
        if method in MESSAGE_METHODS:
            self.check(params, method)
        return JSONResponse(self.reply(method, params, self.calls[-1].authorization))

    def reply(self, method: str, params: dict[str, Any], authorization: str = "") -> dict[str, Any]:
        if method == "auth.test":
            return self.auth_test(authorization.removeprefix("Bearer "))
        if method == "oauth.v2.access":
            return self.oauth_access(str(params.get("code")))
        if method == "chat.postMessage":
            body = fixture("chat_postMessage.json")
            ts = f"{time.time():.6f}"
            body.update(channel=params.get("channel"), ts=ts)
            body["message"].update(text=params.get("text"), ts=ts)
            return body
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{time.time():.6f}"}
        if method == "users.info":
            return self.user(str(params.get("user")))
        if method == "conversations.info":
            return self.conversation(str(params.get("channel")))
        if method in HISTORY_METHODS:
            return self.history_reply(method, params)
        return {"ok": False, "error": "unknown_method"}

    def auth_test(self, token: str) -> dict[str, Any]:
        body = fixture("auth_test.json")
        install = next((i for i in self.installs.values() if i.bot_token == token), None)
        if install is not None:
            body.update(team_id=install.team_id, user_id=install.bot_user_id, bot_id=install.bot_id)
        return body

    def oauth_access(self, code: str) -> dict[str, Any]:
        install = self.installs.get(code)
        if install is None:
            return {"ok": False, "error": "invalid_code"}
        return {
            "ok": True,
            "access_token": install.bot_token,
            "token_type": "bot",
            "scope": "commands,chat:write,app_mentions:read",
            "bot_user_id": install.bot_user_id,
            "app_id": "A0KRD7HC3",
            "team": {"name": "Installed Team", "id": install.team_id},
            "enterprise": None,
            "is_enterprise_install": False,
            "authed_user": {"id": install.installer},
        }

    def user(self, user_id: str) -> dict[str, Any]:
        body = copy.deepcopy(fixture("users_info.json"))
        body["user"]["id"] = user_id
        body["user"]["profile"]["email"] = self.emails.get(user_id, f"{user_id.lower()}@example.com")
        return body

    def conversation(self, channel: str) -> dict[str, Any]:
        if channel in self.hidden_channels:
            return {"ok": False, "error": "channel_not_found"}
        shared = channel in self.shared_channels
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": f"chan-{channel.lower()}",
                "is_channel": True,
                "is_private": channel in self.private_channels,
                "is_shared": shared,
                "is_ext_shared": shared,
                "is_org_shared": False,
                "is_pending_ext_shared": False,
                "is_member": True,
            },
        }

    def history_reply(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel"))
        if method == "chat.getPermalink":
            ts = str(params.get("message_ts"))
            link = f"https://example.slack.com/archives/{channel}/p{ts.replace('.', '')}"
            return {"ok": True, "channel": channel, "permalink": link}
        if method == "conversations.members":
            return {
                "ok": True,
                "members": self.members.get(channel, []),
                "response_metadata": {"next_cursor": ""},
            }
        if channel not in self.history:
            return {"ok": False, "error": "channel_not_found"}
        if method == "conversations.replies":
            ts = str(params.get("ts"))
            parent = next(m for m in self.history[channel] if m["ts"] == ts)
            found = [parent, *self.threads.get((channel, ts), [])]
        else:
            oldest = float(params.get("oldest") or 0)
            found = [m for m in reversed(self.history[channel]) if float(m["ts"]) > oldest]  # newest first
        return page_of(found, params, fixture(f"{method.replace('.', '_')}.json"))

    async def respond(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self.responses.setdefault(request.path_params["key"], []).append(body)
        self.check(body, "response_url")
        return Response("ok")


def page_of(found: list[dict[str, Any]], params: dict[str, Any], envelope: dict[str, Any]) -> dict[str, Any]:
    """Cursor pagination as Slack does it: an opaque ``next_cursor`` (here, the offset) and ``has_more``."""
    start, limit = int(params.get("cursor") or 0), int(params.get("limit") or 100)
    more = start + limit < len(found)
    envelope.update(messages=found[start : start + limit], has_more=more)
    envelope["response_metadata"] = {"next_cursor": str(start + limit) if more else ""}
    return envelope


async def body_of(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    if request.headers.get("content-type", "").startswith("application/json"):
        loaded: dict[str, Any] = json.loads(raw)
        return loaded
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


@contextlib.asynccontextmanager
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    app = Starlette(
        routes=[
            Route("/api/{method}", fake.api, methods=["GET", "POST"]),
            Route("/response/{key}", fake.respond, methods=["POST"]),
        ]
    )
    async with serve(app) as live:
        fake.base_url = live.base_url
        yield fake
