"""Slack payloads -> ``ChatOrigin``. The mapping key is always the payload's own ``team_id`` (the team the
app is installed in), never the sender's team: in a Slack Connect channel they differ.
"""

from __future__ import annotations

import re
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.identity import ChatOrigin
from core.errors import AccessDenied

PLATFORM = "slack"
MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def kind_of(channel_id: str, channel_type: str | None = None) -> str:
    if channel_type == "im" or channel_id.startswith("D") or channel_type == "directmessage":
        return "direct"
    if channel_type in ("mpim", "mpdm") or (channel_type or "").startswith("mpdm-"):
        return "group"
    return "channel"


def from_command(body: dict[str, Any]) -> ChatOrigin:
    channel = str(body["channel_id"])
    return ChatOrigin(
        PLATFORM,
        team_id=body.get("team_id"),
        channel_id=channel,
        user_id=str(body["user_id"]),
        kind=kind_of(channel, body.get("channel_name")),
    )


def from_event(body: dict[str, Any], event: dict[str, Any], *, thread_on_root: bool) -> ChatOrigin:
    """A message or app_mention event. ``thread_on_root``: a top-level message starts its own thread."""
    channel = str(event["channel"])
    thread = event.get("thread_ts") or (event.get("ts") if thread_on_root else None)
    return ChatOrigin(
        PLATFORM,
        team_id=body.get("team_id") or event.get("team"),
        channel_id=channel,
        user_id=str(event.get("user", "")),
        kind=kind_of(channel, event.get("channel_type")),
        externally_shared=bool(body.get("is_ext_shared_channel")),
        thread_id=thread,
    )


def from_action(body: dict[str, Any]) -> ChatOrigin:
    channel = str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id"))
    message = body.get("message") or {}
    team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
    return ChatOrigin(
        PLATFORM,
        team_id=team,
        channel_id=channel,
        user_id=str(body["user"]["id"]),
        kind=kind_of(channel),
        externally_shared=bool(body.get("is_ext_shared_channel")),
        thread_id=message.get("thread_ts"),
    )


def question_text(text: str) -> str:
    """A mention's text without the @mentions."""
    return MENTION.sub("", text).strip()


async def checked(origin: ChatOrigin, client: AsyncWebClient) -> ChatOrigin:
    """Add what only the Web API knows: whether the channel is shared externally, and the asker's email."""
    if origin.kind != "direct" and not origin.externally_shared:
        origin = origin.shared_externally(await externally_shared(client, origin.channel_id))
    return origin.with_email(await email_of(client, origin.user_id))


async def externally_shared(client: AsyncWebClient, channel_id: str) -> bool:
    try:
        info = await client.conversations_info(channel=channel_id)
    except SlackApiError as exc:
        raise AccessDenied(
            "I can't see this channel's settings, so I can't answer here yet.",
            how_to="Invite me to the channel with `/invite @Switchboard`, then ask again.",
        ) from exc
    channel = info.get("channel") or {}
    return bool(channel.get("is_ext_shared") or channel.get("is_pending_ext_shared"))


async def email_of(client: AsyncWebClient, user_id: str) -> str | None:
    """The asker's email (for document ACLs); None when Slack does not share it."""
    try:
        info = await client.users_info(user=user_id)
    except SlackApiError:
        return None
    email = ((info.get("user") or {}).get("profile") or {}).get("email")
    return str(email) if email else None
