"""Slack channel history through slack_sdk: ``conversations.history`` and ``conversations.replies``.

Incremental by message ``ts`` per channel (``oldest`` is exclusive, so nothing is read twice); a thread
(its parent and every reply) becomes one document with the parent's permalink. A private channel's
documents are readable by its members' emails only. Rate limits (429) retry after Slack's Retry-After.
Known limit: a new reply to a thread older than the cursor is not seen until that thread is re-read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from connectors.base import Item, Page, dump_cursor, load_cursor, retry_after
from core.errors import AuthError, PermanentError, TransientError

AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "missing_scope",
     "not_in_channel", "channel_not_found"}
)  # fmt: skip


class SlackHistoryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: list[str] = Field(min_length=1, max_length=100)
    api_url: str | None = None  # default: SWITCHBOARD_SLACK__API_URL
    page_size: int = Field(default=200, ge=1, le=1000)


class SlackHistorySecret(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: SecretStr


def slack_error(exc: SlackApiError) -> Exception:
    response = exc.response
    error = str(response.get("error") or "") if response is not None else ""
    status = response.status_code if response is not None else 0
    if status == 429 or error == "ratelimited":
        headers = response.headers if response is not None else {}
        return TransientError("Slack rate limit (429)", retry_after_s=retry_after(headers))
    if error in AUTH_ERRORS:
        return AuthError(
            f"Slack refused the request: {error} (check the token, its scopes, and invite the bot)"
        )
    if status >= 500:
        return TransientError(f"Slack answered HTTP {status}")
    return PermanentError(f"Slack error: {error or status}")


def render(messages: list[dict[str, Any]]) -> str:
    lines = [f"{m.get('user') or m.get('username') or 'unknown'}: {m.get('text', '')}" for m in messages]
    return "\n\n".join(lines)


class SlackHistoryConnector:
    def __init__(self, config: SlackHistoryConfig, secret: SlackHistorySecret, *, api_url: str) -> None:
        self.config = config
        self.client = AsyncWebClient(
            token=secret.token.get_secret_value(), base_url=config.api_url or api_url
        )

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        try:
            response = await self.client.api_call(method, params=params)
        except SlackApiError as exc:
            raise slack_error(exc) from exc
        return dict(response.data) if isinstance(response.data, dict) else {}

    async def pages(self, cursor: str | None) -> AsyncIterator[Page]:
        state = load_cursor(cursor)
        for channel in self.config.channels:
            async for page in self.channel_pages(channel, state):
                yield page

    async def channel_pages(self, channel: str, state: dict[str, Any]) -> AsyncIterator[Page]:
        own: dict[str, Any] = dict(state.get(channel) or {})
        acl = await self.channel_acl(channel)
        while True:
            params: dict[str, Any] = {"channel": channel, "limit": self.config.page_size}
            if own.get("oldest"):
                params["oldest"] = own["oldest"]
            if own.get("page"):
                params["cursor"] = own["page"]
            body = await self.call("conversations.history", **params)
            messages = [m for m in body.get("messages") or [] if m.get("type", "message") == "message"]
            items = [await self.thread_item(channel, m, acl) for m in messages if not m.get("parent_user_id")]
            high = max([float(own.get("high") or 0)] + [float(m["ts"]) for m in messages if m.get("ts")])
            own["high"] = f"{high:.6f}" if high else None
            next_page = (body.get("response_metadata") or {}).get("next_cursor") or None
            own["page"] = next_page if body.get("has_more") else None
            if not own["page"]:
                own = {"oldest": own["high"] or own.get("oldest"), "page": None, "high": own["high"]}
            state[channel] = own
            yield Page(dump_cursor(state), upserts=items)
            if not own["page"]:
                return

    async def channel_acl(self, channel: str) -> list[str] | None:
        info = (await self.call("conversations.info", channel=channel)).get("channel") or {}
        if not info.get("is_private"):
            return None
        members = (await self.call("conversations.members", channel=channel)).get("members") or []
        emails: list[str] = []
        for member in members:
            profile = ((await self.call("users.info", user=member)).get("user") or {}).get("profile") or {}
            if profile.get("email"):
                emails.append(str(profile["email"]).lower())
        return emails  # an empty list: nobody outside Slack's own view may read it

    async def replies(self, channel: str, ts: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page: str | None = None
        while True:
            params: dict[str, Any] = {"channel": channel, "ts": ts, "limit": self.config.page_size}
            if page:
                params["cursor"] = page
            body = await self.call("conversations.replies", **params)
            found += body.get("messages") or []
            page = (body.get("response_metadata") or {}).get("next_cursor") or None
            if not (body.get("has_more") and page):
                break
        unique = {str(m.get("ts")): m for m in found}
        return [unique[k] for k in sorted(unique, key=float)]

    async def thread_item(self, channel: str, message: dict[str, Any], acl: list[str] | None) -> Item:
        ts = str(message["ts"])
        thread = [message]
        if int(message.get("reply_count") or 0) > 0:
            thread = await self.replies(channel, ts) or [message]
        link = (await self.call("chat.getPermalink", channel=channel, message_ts=ts)).get("permalink")
        first_line = str(message.get("text") or "").strip().splitlines()[:1]
        latest = max(float(m.get("ts") or 0) for m in thread)
        return Item(
            id=f"{channel}/{ts}",
            data=render(thread).encode(),
            title=(first_line[0][:80] if first_line else f"Slack thread {ts}") + f" (#{channel})",
            url=str(link) if link else None,
            doc_type="txt",
            acl=acl,
            updated_at=datetime.fromtimestamp(latest, UTC),
        )
