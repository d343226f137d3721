"""The Teams bot: an ``ActivityHandler`` that turns activities into ``bots.commands`` calls and replies with
Adaptive Cards. Channel mentions are answered in the same reply chain (the conversation id of a channel
message names its chain); personal and group chats are answered in the chat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from botbuilder.core import ActivityHandler, InvokeResponse, MessageFactory, TurnContext
from botbuilder.schema import Activity, Attachment, ChannelAccount

from bots.commands import CommandRequest, Commands, Reply
from bots.identity import ChatOrigin
from bots.teams import cards, origin

log = logging.getLogger(__name__)
MESSAGE = "application/vnd.microsoft.activity.message"


@dataclass(frozen=True)
class TeamsPolicy:
    """Which tenants may talk to the bot at all (empty: any tenant; the channel mappings still apply)."""

    allowed_tenants: frozenset[str] = field(default_factory=frozenset)

    def refusal(self, who: ChatOrigin) -> Reply | None:
        if not self.allowed_tenants or who.tenant_id in self.allowed_tenants:
            return None
        return Reply(
            "refusal",
            "This Switchboard does not serve your organisation's Teams tenant.",
            how_to="Ask your Switchboard admin to add your tenant id to SWITCHBOARD_TEAMS__ALLOWED_TENANTS.",
        )


def card_activity(reply: Reply) -> Activity:
    attachment = Attachment(content_type=cards.CONTENT_TYPE, content=cards.reply_card(reply))
    return MessageFactory.attachment(attachment, text=cards.fallback_text(reply))


class TeamsBot(ActivityHandler):  # type: ignore[misc]
    def __init__(self, commands: Commands, policy: TeamsPolicy | None = None) -> None:
        self.commands = commands
        self.policy = policy or TeamsPolicy()

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        who = origin.from_activity(activity)
        text = origin.question_text(str(activity.text or ""))
        reply = self.policy.refusal(who) or await self.commands.run(CommandRequest(who, text))
        await turn_context.send_activity(card_activity(reply))

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        """The bot itself was added (to a team, a chat or personal scope): post the welcome card."""
        bot_id = turn_context.activity.recipient.id
        if not any(member.id == bot_id for member in members_added):
            return
        welcome = cards.welcome_card(self.commands.help())
        attachment = Attachment(content_type=cards.CONTENT_TYPE, content=welcome)
        await turn_context.send_activity(MessageFactory.attachment(attachment, text="Hi! I'm Switchboard."))

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:
        """👍/👎 (verb ``feedback``) and related questions (verb ``related``) from ``Action.Execute``."""
        activity = turn_context.activity
        if activity.name != "adaptiveCard/action":
            return await super().on_invoke_activity(turn_context)
        who = origin.from_activity(activity)
        action = mapping(mapping(activity.value).get("action"))
        data = mapping(action.get("data"))
        verb = str(action.get("verb") or "")
        reply = self.policy.refusal(who) or await self._act(who, verb, data)
        if verb == cards.RELATED and reply.kind == "answer":
            await turn_context.send_activity(card_activity(reply))
            return invoke_message("Answered below.")
        return invoke_message(reply.text + (f"\n{reply.how_to}" if reply.how_to else ""))

    async def _act(self, who: ChatOrigin, verb: str, data: dict[str, Any]) -> Reply:
        if verb == cards.FEEDBACK and data.get("rating") in (1, -1) and isinstance(data.get("token"), str):
            return await self.commands.feedback(who, data["token"], int(data["rating"]))
        if verb == cards.RELATED and isinstance(data.get("question"), str):
            return await self.commands.ask(who, data["question"])
        return Reply("refusal", "I don't know that button.", how_to="Ask me a question instead.")


def mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def invoke_message(text: str) -> InvokeResponse:
    """The ``adaptiveCard/action`` response that shows ``text`` to the user who clicked."""
    return InvokeResponse(status=200, body={"statusCode": 200, "type": MESSAGE, "value": text})
