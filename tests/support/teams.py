"""Teams activities built from the shared fixtures (ids, text and serviceUrl changed as each test needs)."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from tests.conftest import FIXTURES

TEAMS = FIXTURES / "teams"
BOT_ID = "28:0b6fe6d1-fece-44f7-9a48-56465e2d5ab8"
Activity = dict[str, Any]


def fixture(name: str) -> Activity:
    loaded: Activity = json.loads((TEAMS / name).read_text())
    return loaded


def new_id() -> str:
    return str(uuid.uuid4().int)[:13]


def mention(
    *,
    team: str,
    channel: str,
    tenant: str,
    text: str,
    service_url: str,
    root: str | None = None,
    user: str = "29:user",
) -> Activity:
    """A channel message @mentioning the bot; ``root`` is the reply chain it belongs to (new: its own id)."""
    activity = fixture("channel_message_mention.json")
    message_id = new_id()
    activity.update(id=message_id, serviceUrl=service_url, text=f"<at>ridotest</at> {text}")
    activity["channelData"].update(
        teamsChannelId=channel,
        teamsTeamId=team,
        channel={"id": channel},
        team={"id": team},
        tenant={"id": tenant},
    )
    activity["conversation"].update(id=f"{channel};messageid={root or message_id}", tenantId=tenant)
    activity["from"].update(id=user, aadObjectId=user)
    activity["recipient"]["id"] = BOT_ID
    activity["entities"][0]["mentioned"]["id"] = BOT_ID
    return activity


def personal(
    *, tenant: str, text: str, service_url: str, conversation: str = "a:personal-1", user: str = "29:user"
) -> Activity:
    activity = fixture("personal_message.json")
    activity.update(id=new_id(), serviceUrl=service_url, text=text)
    activity["conversation"]["id"] = conversation
    activity["channelData"]["tenant"]["id"] = tenant
    activity["from"].update(id=user, aadObjectId=user)
    return activity


def group(*, tenant: str, text: str, service_url: str, conversation: str, user: str = "29:user") -> Activity:
    """A group chat message: the personal fixture with conversationType ``groupChat`` and a mention."""
    activity = personal(
        tenant=tenant,
        text=f"<at>Teams TestBot</at> {text}",
        service_url=service_url,
        conversation=conversation,
        user=user,
    )
    activity["conversation"].update(conversationType="groupChat", isGroup=True, tenantId=tenant)
    return activity


def bot_added(*, team: str, channel: str, tenant: str, service_url: str) -> Activity:
    activity = fixture("conversation_update_bot_added_team.json")
    activity["serviceUrl"] = service_url
    activity["conversation"].update(id=channel, tenantId=tenant)
    activity["channelData"]["team"]["id"] = team
    activity["channelData"]["tenant"]["id"] = tenant
    return activity


def invoke(context: Activity, *, verb: str, data: dict[str, Any], user: str = "29:user") -> Activity:
    """An ``adaptiveCard/action`` invoke clicked on a card in the conversation of ``context``."""
    activity = fixture("invoke_adaptive_card_action.json")
    activity.update(
        id=f"f:{uuid.uuid4()}",
        serviceUrl=context["serviceUrl"],
        replyToId=new_id(),
        conversation=copy.deepcopy(context["conversation"]),
        channelData=copy.deepcopy(context["channelData"]),
    )
    activity["from"].update(id=user, aadObjectId=user)
    activity["value"]["action"].update(verb=verb, data=data, title="clicked")
    return activity
