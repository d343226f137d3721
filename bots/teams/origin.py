"""Teams activities -> ``ChatOrigin``, as DESIGN.md maps them: a channel by ``channelData.team.id`` +
``channelData.channel.id`` (tenant from ``channelData.tenant.id``), a group chat by its conversation id
under the team ``chat``, a personal chat by its tenant (the tenant's default workspace).
"""

from __future__ import annotations

import re
from typing import Any

from botbuilder.schema import Activity

from bots.identity import ChatOrigin

PLATFORM = "teams"
GROUP_TEAM = "chat"
MENTION = re.compile(r"<at[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)


def tenant_of(activity: Activity) -> str | None:
    data: dict[str, Any] = activity.channel_data or {}
    tenant = (data.get("tenant") or {}).get("id")
    conversation = activity.conversation
    return str(tenant or getattr(conversation, "tenant_id", None) or "") or None


def from_activity(activity: Activity) -> ChatOrigin:
    """The origin of a message or invoke. ``thread_id`` is the conversation id (a channel reply chain
    carries ``;messageid=<root>``), so follow-ups in the same chain or chat share their memory."""
    data: dict[str, Any] = activity.channel_data or {}
    conversation = activity.conversation
    conversation_id = str(conversation.id)
    kind = str(getattr(conversation, "conversation_type", None) or "personal")
    tenant = tenant_of(activity)
    user = str(getattr(activity.from_property, "aad_object_id", None) or activity.from_property.id)
    if kind == "channel":
        channel = data.get("channel") or {}
        return ChatOrigin(
            PLATFORM,
            team_id=(data.get("team") or {}).get("id"),
            channel_id=str(channel.get("id") or conversation_id.split(";", maxsplit=1)[0]),
            user_id=user,
            kind="channel",
            tenant_id=tenant,
            externally_shared=channel.get("membershipType") == "shared",
            thread_id=conversation_id,
            service_url=activity.service_url,
        )
    if kind == "groupChat":
        return ChatOrigin(
            PLATFORM,
            GROUP_TEAM,
            conversation_id,
            user,
            "group",
            tenant,
            thread_id=conversation_id,
            service_url=activity.service_url,
        )
    return ChatOrigin(PLATFORM, tenant, conversation_id, user, "direct", tenant, thread_id=conversation_id)


def question_text(text: str) -> str:
    """A message's text without its @mentions."""
    return " ".join(MENTION.sub(" ", text).split())
