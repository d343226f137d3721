"""Signature checks of inbound pushes, the change summary of alerts, and which history source a
channel message concerns: pure functions, no I/O."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from core.changes import summarize
from core.events import ChannelMessagePosted
from core.push import new_secret
from core.tables import Source
from hub.push import covers
from webhooks.signatures import (
    SignatureError,
    check_hub_signature,
    check_standard_webhook,
    client_state_matches,
)

BODY = b'{"page": {"id": 1}}'


def standard_headers(
    secret: str, body: bytes, msg_id: str = "msg_1", at: float | None = None
) -> dict[str, str]:
    moment = datetime.fromtimestamp(at if at is not None else time.time(), UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, moment, body.decode()),
    }


def test_hub_signature_accepts_the_right_hmac_and_refuses_others() -> None:
    digest = hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()
    check_hub_signature("s3cret", BODY, {"x-hub-signature": f"sha256={digest}"})
    check_hub_signature("s3cret", BODY, {"x-hub-signature-256": f"sha256={digest.upper()}"})
    for headers in (
        {},
        {"x-hub-signature": digest},
        {"x-hub-signature": f"sha1={digest}"},
        {"x-hub-signature": "sha256=" + "0" * 64},
    ):
        with pytest.raises(SignatureError):
            check_hub_signature("s3cret", BODY, headers)
    with pytest.raises(SignatureError):
        check_hub_signature("s3cret", BODY + b" ", {"x-hub-signature": f"sha256={digest}"})


def test_standard_webhooks_verify_and_refuse_stale_tampered_and_malformed() -> None:
    secret = new_secret()
    assert check_standard_webhook(secret, BODY, standard_headers(secret, BODY, "msg_ok")) == "msg_ok"
    several = standard_headers(secret, BODY)
    several["webhook-signature"] = "v1,AAAA " + several["webhook-signature"]  # rotation: any one may match
    check_standard_webhook(secret, BODY, several)
    refused = [
        standard_headers(secret, BODY, at=time.time() - 301),
        standard_headers(secret, BODY, at=time.time() + 301),
        standard_headers(new_secret(), BODY),
        {**standard_headers(secret, BODY), "webhook-signature": "nonsense"},
        {**standard_headers(secret, BODY), "webhook-timestamp": "soon"},
        {k: v for k, v in standard_headers(secret, BODY).items() if k != "webhook-id"},
    ]
    for headers in refused:
        with pytest.raises(SignatureError):
            check_standard_webhook(secret, BODY, headers)
    with pytest.raises(SignatureError):
        check_standard_webhook(secret, b"\xff\xfe", standard_headers(secret, b"x"))


def test_client_state_is_compared_exactly() -> None:
    assert client_state_matches("abc", "abc")
    assert not client_state_matches("abc", "abd")
    assert not client_state_matches("abc", None)
    assert not client_state_matches("abc", 123)


def test_summaries_say_what_changed() -> None:
    assert summarize(None, "a\nb") == "new document (2 lines)"
    assert summarize("a", None) == "removed"
    assert summarize("a\nb", "a\nb") == "metadata changed (title, link, collection or access)"
    assert summarize("a\nb", "a\nc\nd") == "+2 lines, -1 line: c"
    long = summarize("", "x" * 500)
    assert long.startswith("+1 line, -0 lines: ") and long.endswith("…") and len(long) < 200


def test_a_channel_message_concerns_the_history_sources_of_that_channel() -> None:
    event = ChannelMessagePosted("slack", "T1", "C1")
    assert covers(Source(type="slack", config={"channels": ["C1"]}), event)
    assert covers(Source(type="slack", config={"channels": ["C0", "C1"]}), event)
    assert not covers(Source(type="slack", config={"channels": ["C2"]}), event)
    assert not covers(Source(type="slack", config={"channels": "C1"}), event)
