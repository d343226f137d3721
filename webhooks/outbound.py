"""Outbound webhooks: subscriptions per workspace, Standard Webhooks signing, SSRF-guarded delivery.

Flow: a domain event reaches ``Fanout`` (an event-bus subscriber hub wires); it queues one ``webhook`` job per
matching subscription through a submit port. The worker runs ``Deliverer`` (the ``JobPorts.deliver_webhook``
port) for each attempt: it signs the body (``webhook-id`` / ``webhook-timestamp`` / ``webhook-signature``),
resolves the target once, refuses private addresses unless allowed, connects to the resolved IP (so a DNS
answer that changes between check and connect cannot redirect it: DNS rebinding), and logs the attempt. A
failed attempt raises ``TransientError`` so arq retries it with exponential backoff; the message id stays the
same across attempts, so receivers can de-duplicate.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import ipaddress
import json
import secrets
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.fernet import MultiFernet
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from core.db import Sessions
from core.errors import InvalidInput, NotFound, TransientError
from core.events import (
    AnswerFlagged,
    BudgetExceeded,
    ChannelMessagePosted,
    DocumentChanged,
    DomainEvent,
    SyncCompleted,
    SyncFailed,
)
from core.jobs import ItemResult
from core.protect_tables import WebhookDelivery, WebhookSubscription
from core.tables import Workspace

EVENT_TYPES: dict[type[Any], str] = {
    SyncCompleted: "sync.completed",
    SyncFailed: "sync.failed",
    DocumentChanged: "document.changed",
    AnswerFlagged: "answer.flagged",
    BudgetExceeded: "budget.reached",
}
EVENT_NAMES = tuple(EVENT_TYPES.values())
MAX_LOGGED_ERROR = 500

Submit = Callable[[int, dict[str, Any]], Awaitable[object]]


class TargetRefused(InvalidInput):
    """A webhook URL that may not be called: bad scheme, or a private address while those are refused."""


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt."""
    signature = Webhook(secret).sign(message_id, timestamp, body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }


def event_message(event: DomainEvent) -> dict[str, Any]:
    """The JSON body receivers get: ``{"type", "timestamp", "data"}`` (the Standard Webhooks shape)."""
    data = dataclasses.asdict(event)
    return {"type": EVENT_TYPES[type(event)], "timestamp": datetime.now(UTC).isoformat(), "data": data}


def check_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_NAMES))
    if not events or unknown:
        raise InvalidInput(f"events must be a non-empty list of {', '.join(EVENT_NAMES)}")
    return sorted(set(events))


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """A checked URL and the one IP address it will be connected to."""

    url: str
    host: str
    ip: str
    port: int
    scheme: str


def _refusable(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _refusable(ip.ipv4_mapped)
    return not ip.is_global or ip.is_multicast


class TargetGuard:
    """Resolves a URL once and refuses non-public addresses (unless ``allow_private``)."""

    def __init__(self, *, allow_private: bool = False) -> None:
        self.allow_private = allow_private

    def check_url(self, url: str) -> tuple[str, str, int]:
        """Syntax only (no DNS): http(s), a host, no credentials in the URL. Returns scheme, host, port."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise TargetRefused(f"invalid webhook URL: {exc}") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TargetRefused("a webhook URL must be http:// or https:// with a host")
        if parts.username or parts.password:
            raise TargetRefused("a webhook URL may not carry credentials")
        default = 443 if parts.scheme == "https" else 80
        host = parts.hostname
        self._check_literal(host)
        return parts.scheme, host, port or default

    def _check_literal(self, host: str) -> None:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return
        self._check_ip(ip)

    def _check_ip(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
        if not self.allow_private and _refusable(ip):
            raise TargetRefused(
                f"webhook target {ip} is a private, loopback or link-local address "
                "(set SWITCHBOARD_WEBHOOKS__ALLOW_PRIVATE_TARGETS=true to allow)"
            )

    async def resolve(self, url: str) -> Target:
        """Resolve once; every address must pass, and the first is the one connected to."""
        scheme, host, port = self.check_url(url)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise TransientError(f"cannot resolve {host}: {exc}") from exc
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        if not addresses:
            raise TransientError(f"cannot resolve {host}")
        for address in addresses:
            self._check_ip(address)
        return Target(url, host, str(addresses[0]), port, scheme)


def pinned_request(target: Target, body: str, headers: dict[str, str]) -> httpx.Request:
    """A POST to the resolved IP, with the original Host header (and TLS SNI / certificate name)."""
    parts = urlsplit(target.url)
    ip_host = f"[{target.ip}]" if ":" in target.ip else target.ip
    url = parts._replace(netloc=f"{ip_host}:{target.port}").geturl()
    default = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default else f"{target.host}:{target.port}"
    all_headers = {**headers, "host": host_header, "content-type": "application/json"}
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    return httpx.Request("POST", url, content=body.encode(), headers=all_headers, extensions=extensions)


async def subscriptions_for(session: AsyncSession, workspace_id: int, event_type: str) -> list[int]:
    rows = await session.scalars(
        select(WebhookSubscription).where(
            WebhookSubscription.workspace_id == workspace_id, WebhookSubscription.active.is_(True)
        )
    )
    return [s.id for s in rows.all() if event_type in (s.events or [])]


async def workspace_of(session: AsyncSession, event: DomainEvent) -> int | None:
    if isinstance(event, DocumentChanged):
        return event.workspace_id
    if isinstance(event, ChannelMessagePosted):
        return None
    found: int | None = await session.scalar(select(Workspace.id).where(Workspace.name == event.workspace))
    return found


class Fanout:
    """Event-bus subscriber: one queued delivery job per active subscription to the event's type."""

    def __init__(self, sessions: Sessions, submit: Submit) -> None:
        self._sessions = sessions
        self._submit = submit

    async def __call__(self, event: DomainEvent) -> None:
        if type(event) not in EVENT_TYPES:
            return  # internal events (e.g. a chat message hinting a sync) are not for receivers
        message = event_message(event)
        async with self._sessions() as session:
            workspace_id = await workspace_of(session, event)
            if workspace_id is None:
                return
            targets = await subscriptions_for(session, workspace_id, message["type"])
        for subscription_id in targets:
            params = {
                "subscription_id": subscription_id,
                "message_id": f"msg_{uuid.uuid4().hex}",
                "message": message,
            }
            await self._submit(workspace_id, params)


class Deliverer:
    """The ``deliver_webhook`` job port: one signed, guarded, logged attempt per call."""

    def __init__(
        self,
        sessions: Sessions,
        fernet: MultiFernet,
        guard: TargetGuard,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._sessions = sessions
        self._fernet = fernet
        self._guard = guard
        self._timeout_s = timeout_s
        self._transport = transport

    async def __call__(self, workspace_id: int, params: dict[str, Any]) -> ItemResult:
        message_id = str(params.get("message_id", ""))
        message = params.get("message") or {}
        async with self._sessions() as session:
            subscription = await session.get(WebhookSubscription, int(params.get("subscription_id", 0)))
        if subscription is None or subscription.workspace_id != workspace_id or not subscription.active:
            return ItemResult(message_id, "skipped", "the subscription was removed or disabled")
        secret = self._fernet.decrypt(subscription.secret.encode()).decode()
        body = json.dumps(message, separators=(",", ":"), sort_keys=True)
        attempt = Attempt(subscription, message_id, str(message.get("type", "")))
        try:
            target = await self._guard.resolve(subscription.url)
        except TargetRefused as exc:
            await attempt.log(self._sessions, "refused", None, str(exc))
            return ItemResult(message_id, "refused", str(exc))
        headers = sign(secret, message_id, datetime.now(UTC), body)
        return await self._post(attempt, pinned_request(target, body, headers))

    async def _post(self, attempt: Attempt, request: httpx.Request) -> ItemResult:
        started = time.perf_counter()
        try:
            async with httpx.AsyncClient(
                transport=self._transport, timeout=self._timeout_s, follow_redirects=False, trust_env=False
            ) as client:
                response = await client.send(request)
        except httpx.HTTPError as exc:
            await attempt.log(self._sessions, "failed", None, f"{type(exc).__name__}: {exc}", started)
            raise TransientError(f"webhook delivery failed: {type(exc).__name__}") from exc
        if 200 <= response.status_code < 300:
            await attempt.log(self._sessions, "delivered", response.status_code, None, started)
            return ItemResult(attempt.message_id, "delivered")
        error = f"HTTP {response.status_code}: {response.text[:200]}"
        await attempt.log(self._sessions, "failed", response.status_code, error, started)
        raise TransientError(
            f"webhook receiver answered {response.status_code}", retry_after_s=retry_after(response)
        )


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


@dataclasses.dataclass(frozen=True, slots=True)
class Attempt:
    subscription: WebhookSubscription
    message_id: str
    event_type: str

    async def log(
        self, sessions: Sessions, status: str, code: int | None, error: str | None, started: float = 0.0
    ) -> None:
        elapsed = (time.perf_counter() - started) * 1000.0 if started else 0.0
        async with sessions.begin() as session:
            earlier = await session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(
                    WebhookDelivery.subscription_id == self.subscription.id,
                    WebhookDelivery.message_id == self.message_id,
                )
            )
            session.add(
                WebhookDelivery(
                    workspace_id=self.subscription.workspace_id,
                    subscription_id=self.subscription.id,
                    message_id=self.message_id,
                    event_type=self.event_type,
                    attempt=int(earlier or 0) + 1,
                    status=status,
                    status_code=code,
                    error=(error or None) and error[:MAX_LOGGED_ERROR],
                    duration_ms=round(elapsed, 2),
                )
            )


# --- subscriptions (REST and CLI call these inside a session) -----------------------------------------


async def subscribe(
    session: AsyncSession,
    fernet: MultiFernet,
    guard: TargetGuard,
    workspace: Workspace,
    url: str,
    events: list[str],
    description: str = "",
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its plaintext secret, which is returned only here."""
    guard.check_url(url)
    secret = new_secret()
    row = WebhookSubscription(
        workspace_id=workspace.id,
        url=url,
        events=check_events(events),
        secret=fernet.encrypt(secret.encode()).decode(),
        description=description,
    )
    session.add(row)
    await session.flush()
    return row, secret


async def get_subscription(session: AsyncSession, workspace: Workspace, sub_id: int) -> WebhookSubscription:
    row = await session.get(WebhookSubscription, sub_id)
    if row is None or row.workspace_id != workspace.id:
        raise NotFound(f"webhook {sub_id} not found")
    return row


async def list_subscriptions(session: AsyncSession, workspace: Workspace) -> list[WebhookSubscription]:
    rows = await session.scalars(
        select(WebhookSubscription)
        .where(WebhookSubscription.workspace_id == workspace.id)
        .order_by(WebhookSubscription.id)
    )
    return list(rows.all())


async def deliveries(
    session: AsyncSession, workspace: Workspace, sub_id: int, *, limit: int = 100
) -> list[WebhookDelivery]:
    await get_subscription(session, workspace, sub_id)
    rows = await session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.workspace_id == workspace.id, WebhookDelivery.subscription_id == sub_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    return list(rows.all())
