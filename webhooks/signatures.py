"""Checks of inbound webhook signatures. Every comparison is constant-time; nothing here does I/O.

- Confluence (and any ``X-Hub-Signature`` sender): ``sha256=<hex HMAC-SHA256(secret, raw body)>``.
- Standard Webhooks (standardwebhooks.com): ``webhook-id``, ``webhook-timestamp`` (±5 minutes) and
  ``webhook-signature`` (``v1,<base64 HMAC-SHA256 over "id.timestamp.body">``, space-separated list),
  verified by the ``standardwebhooks`` reference library.
- Graph: the ``clientState`` we gave the subscription comes back in every notification.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
from collections.abc import Mapping

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

HUB_HEADERS = ("x-hub-signature-256", "x-hub-signature")


class SignatureError(Exception):
    """The request is not signed by the holder of the source's secret (or is stale)."""


def check_hub_signature(secret: str, body: bytes, headers: Mapping[str, str]) -> None:
    given = next((headers[h] for h in HUB_HEADERS if h in headers), "")
    algorithm, _, digest = given.partition("=")
    if algorithm.lower() != "sha256" or not digest:
        raise SignatureError("missing X-Hub-Signature: sha256=<hex>")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, digest.strip().lower()):
        raise SignatureError("bad signature")


def check_standard_webhook(secret: str, body: bytes, headers: Mapping[str, str]) -> str:
    """Verify a Standard Webhooks request; returns its ``webhook-id`` (for replay protection)."""
    wanted = {k: headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature") if k in headers}
    try:
        Webhook(secret).verify(body, wanted, json_parse=False)
    except WebhookVerificationError as exc:
        raise SignatureError(str(exc)) from exc
    except (ValueError, binascii.Error) as exc:  # malformed signature list or a body that is not UTF-8
        raise SignatureError("malformed webhook-signature or body") from exc
    return wanted["webhook-id"]


def client_state_matches(expected: str, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode())
