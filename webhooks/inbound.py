"""Inbound webhooks: change pushes from the systems our sources read. Each one is verified, answered at
once (202) and turned into a sync request; the sync itself runs in a worker job.

- ``POST /webhooks/graph``: Microsoft Graph change notifications. A ``validationToken`` query is the
  subscription handshake (echoed as text/plain); otherwise each notification's ``clientState`` must be
  the secret of the source that owns its ``subscriptionId``.
- ``POST /webhooks/confluence/{source_id}``: ``X-Hub-Signature: sha256=...`` over the raw body.
- ``POST /webhooks/sources/{source_id}``: any system, signed the Standard Webhooks way; stale timestamps
  (±5 minutes) and replayed ``webhook-id``s are refused.

Refusals say what is wrong (401 signature, 403 clientState, 404 no such push endpoint, 409 replay,
413 too large, 400 malformed) and queue nothing. Hub builds an ``Inbound`` and puts it on
``app.state.inbound``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from cryptography.fernet import MultiFernet
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse
from redis.asyncio import Redis

from core import push
from core.db import Sessions
from core.errors import NotFound, TransientError
from core.push import SyncRequests
from core.tables import Source
from webhooks.signatures import (
    SignatureError,
    check_hub_signature,
    check_standard_webhook,
    client_state_matches,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
MAX_BODY = 1024 * 1024
MAX_NOTIFICATIONS = 100  # Graph batches notifications; more than this in one POST is not Graph


@dataclass
class Inbound:
    sessions: Sessions
    fernet: MultiFernet
    redis: Redis | None
    syncs: SyncRequests
    replay_ttl_s: int = 900  # longer than the ±5 minute window, so an id is remembered while it is valid

    async def endpoint(self, source_id: int) -> tuple[Source, str]:
        """The source and its plain push secret; one 404 for unknown sources and sources without push."""
        try:
            async with self.sessions() as session:
                source, settings = await push.of_source(session, source_id)
        except NotFound as exc:
            raise HTTPException(404, detail=f"no push endpoint for source {source_id}") from exc
        return source, push.reveal(self.fernet, settings)

    async def first_delivery(self, source_id: int, message_id: str) -> bool:
        """Remember a message id (SET NX with a TTL); False when it was seen before (a replay)."""
        if self.redis is None:
            raise HTTPException(503, detail="replay protection needs Redis (SWITCHBOARD_REDIS_URL)")
        key = f"switchboard:push:seen:{source_id}:{message_id[:200]}"
        return bool(await self.redis.set(key, "1", nx=True, ex=self.replay_ttl_s))

    async def forget_delivery(self, source_id: int, message_id: str) -> None:
        if self.redis is not None:
            await self.redis.delete(f"switchboard:push:seen:{source_id}:{message_id[:200]}")

    async def request_sync(self, source: Source, reason: str, detail: dict[str, Any]) -> bool:
        try:
            return await self.syncs.request(source, reason=reason, detail=detail)
        except TransientError as exc:
            raise HTTPException(503, detail=str(exc), headers={"Retry-After": "5"}) from exc

    async def subscription_owner(self, notification: dict[str, Any]) -> Source | None:
        """The source whose Graph subscription sent this notification, if its clientState is right."""
        subscription = notification.get("subscriptionId")
        if not isinstance(subscription, str) or not subscription:
            return None
        async with self.sessions() as session:
            found = await push.of_subscription(session, subscription[:255])
        if found is None:
            return None
        source, settings = found
        expected = push.reveal(self.fernet, settings)
        return source if client_state_matches(expected, notification.get("clientState")) else None


def inbound_of(request: Request) -> Inbound:
    inbound: Inbound | None = getattr(request.app.state, "inbound", None)
    if inbound is None:
        raise HTTPException(503, detail="inbound webhooks are not ready")
    return inbound


InboundDep = Annotated[Inbound, Depends(inbound_of)]
SourceId = Annotated[int, Path(ge=1, le=2**31 - 1)]


async def raw_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, detail=f"body over {MAX_BODY} bytes")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > MAX_BODY:
            raise HTTPException(413, detail=f"body over {MAX_BODY} bytes")
    return bytes(body)


def json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(400, detail="the body is not JSON") from exc
    if not isinstance(parsed, dict):
        raise HTTPException(400, detail="the body is not a JSON object")
    return parsed


@router.post("/graph", status_code=202, response_model=None)
async def graph(
    request: Request,
    inbound: InboundDep,
    validation_token: Annotated[str | None, Query(alias="validationToken", max_length=1024)] = None,
) -> Response:
    """Graph change notifications (202), or the subscription handshake (the token echoed, text/plain)."""
    if validation_token is not None:
        return PlainTextResponse(validation_token)
    body = json_object(await raw_body(request))
    notifications = body.get("value")
    if not isinstance(notifications, list) or not 0 < len(notifications) <= MAX_NOTIFICATIONS:
        raise HTTPException(400, detail="expected {'value': [notification, ...]}")
    owners: dict[int, Source] = {}
    for notification in notifications:
        source = await inbound.subscription_owner(notification) if isinstance(notification, dict) else None
        if source is not None:
            owners[source.id] = source
    if not owners:
        raise HTTPException(403, detail="no notification carried a known subscription and clientState")
    for source in owners.values():
        await inbound.request_sync(source, "graph", {})
    return Response(status_code=202)


@router.post("/confluence/{source_id}", status_code=202, response_model=None)
async def confluence(source_id: SourceId, request: Request, inbound: InboundDep) -> Response:
    """A Confluence webhook (page created/updated/removed...), signed with the source's secret."""
    source, secret = await inbound.endpoint(source_id)
    body = await raw_body(request)
    try:
        check_hub_signature(secret, body, request.headers)
    except SignatureError as exc:
        raise HTTPException(401, detail=str(exc)) from exc
    page = json_object(body).get("page")
    page_id = page.get("id") if isinstance(page, dict) else None
    detail = {"page_id": str(page_id)[:64]} if isinstance(page_id, (str, int)) else {}
    await inbound.request_sync(source, "confluence", detail)
    return Response(status_code=202)


@router.post("/sources/{source_id}", status_code=202, response_model=None)
async def generic(source_id: SourceId, request: Request, inbound: InboundDep) -> Response:
    """A signed push from any system (Standard Webhooks): the source is synced."""
    source, secret = await inbound.endpoint(source_id)
    body = await raw_body(request)
    try:
        message_id = check_standard_webhook(secret, body, request.headers)
    except SignatureError as exc:
        raise HTTPException(401, detail=str(exc)) from exc
    if not await inbound.first_delivery(source.id, message_id):
        raise HTTPException(409, detail=f"webhook-id {message_id[:200]!r} was already delivered")
    try:
        await inbound.request_sync(source, "push", {})
    except HTTPException:
        await inbound.forget_delivery(source.id, message_id)  # let the sender's retry through
        raise
    return Response(status_code=202)
