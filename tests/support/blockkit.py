"""Slack's documented Block Kit limits, checked on every message the bot sends in the tests.

Limits from https://docs.slack.dev/reference/block-kit/blocks and .../block-elements/button-element:
50 blocks per message, section text 3,000 chars, context up to 10 elements, actions up to 25 elements,
button text (plain_text) 75 chars, button value 2,000 chars, action_id and block_id 255 chars, and
action_ids unique within a message. A message with blocks should carry a fallback ``text``.
"""

from __future__ import annotations

from typing import Any

BLOCK_TYPES = {"section", "context", "actions", "divider", "header"}


def violations(message: dict[str, Any]) -> list[str]:
    blocks = message.get("blocks") or []
    found: list[str] = []
    if isinstance(blocks, str):  # form-encoded calls send blocks as a JSON string
        import json

        blocks = json.loads(blocks)
    if len(blocks) > 50:
        found.append(f"{len(blocks)} blocks (max 50)")
    if blocks and not str(message.get("text") or "").strip():
        found.append("blocks without a fallback text")
    action_ids: list[str] = []
    for block in blocks:
        found += block_violations(block, action_ids)
    if len(action_ids) != len(set(action_ids)):
        found.append(f"duplicate action_ids {action_ids}")
    return found


def block_violations(block: dict[str, Any], action_ids: list[str]) -> list[str]:
    kind = block.get("type")
    found = [] if kind in BLOCK_TYPES else [f"unknown block type {kind!r}"]
    if len(str(block.get("block_id", ""))) > 255:
        found.append("block_id over 255 chars")
    if kind == "section":
        text = block.get("text") or {}
        if not 1 <= len(text.get("text", "")) <= 3000:
            found.append(f"section text of {len(text.get('text', ''))} chars (1..3000)")
    if kind == "context" and not 1 <= len(block.get("elements", [])) <= 10:
        found.append("context needs 1..10 elements")
    if kind == "actions":
        elements = block.get("elements", [])
        if not 1 <= len(elements) <= 25:
            found.append("actions needs 1..25 elements")
        for element in elements:
            found += button_violations(element)
            action_ids.append(str(element.get("action_id")))
    return found


def button_violations(element: dict[str, Any]) -> list[str]:
    found: list[str] = []
    text = element.get("text") or {}
    if element.get("type") != "button":
        found.append(f"unexpected element {element.get('type')!r}")
    if text.get("type") != "plain_text" or not 1 <= len(text.get("text", "")) <= 75:
        found.append(f"button text {text!r} (plain_text, 1..75 chars)")
    if len(str(element.get("value", ""))) > 2000:
        found.append("button value over 2000 chars")
    if not 1 <= len(str(element.get("action_id", ""))) <= 255:
        found.append("action_id must be 1..255 chars")
    return found
