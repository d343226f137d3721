"""Signed Slack requests built from the shared fixtures (the real signing algorithm, via slack_sdk)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

from slack_sdk.signature import SignatureVerifier

from tests.conftest import FIXTURES

SLACK = FIXTURES / "slack"


def signed_headers(
    secret: str, body: str, *, timestamp: int | None = None, content_type: str
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = str(SignatureVerifier(secret).generate_signature(timestamp=ts, body=body))
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "Content-Type": content_type,
    }


def slash_command(*, team: str, channel: str, user: str, text: str, response_url: str, **extra: str) -> str:
    fields = dict(parse_qsl((SLACK / "slash_command.txt").read_text(), keep_blank_values=True))
    fields.update(
        team_id=team, channel_id=channel, user_id=user, command="/ask", text=text, response_url=response_url
    )
    fields.update(extra)
    return urlencode(fields)


def mention(
    *,
    team: str,
    channel: str,
    user: str,
    text: str,
    ts: str,
    thread_ts: str | None = None,
    ext_shared: bool = False,
    channel_type: str | None = None,
    kind: str = "app_mention",
) -> str:
    body: dict[str, Any] = json.loads((SLACK / "app_mention_event_callback.json").read_text())
    body["team_id"] = team
    body["authorizations"][0]["team_id"] = team  # the installation the event is for (bolt reads this)
    body["event"].update(type=kind, user=user, text=text, ts=ts, channel=channel, event_ts=ts)
    body["event_id"] = f"Ev{ts.replace('.', '')}"
    if thread_ts:
        body["event"]["thread_ts"] = thread_ts
    if channel_type:
        body["event"]["channel_type"] = channel_type
    if ext_shared:
        body["is_ext_shared_channel"] = True
    return json.dumps(body)


def block_action(
    *,
    team: str,
    channel: str,
    user: str,
    action_id: str,
    value: str,
    response_url: str,
    ephemeral: bool = True,
    message_ts: str = "1548261231.000200",
    thread_ts: str | None = None,
) -> str:
    body: dict[str, Any] = json.loads((SLACK / "block_actions.json").read_text())
    body["team"]["id"] = team
    body["user"].update(id=user, team_id=team)
    body["channel"]["id"] = channel
    body["container"] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel,
        "is_ephemeral": ephemeral,
    }
    body["message"]["ts"] = message_ts
    if thread_ts:
        body["message"]["thread_ts"] = thread_ts
    body["response_url"] = response_url
    body["actions"] = [{**body["actions"][0], "action_id": action_id, "value": value, "block_id": "b"}]
    return urlencode({"payload": json.dumps(body)})
