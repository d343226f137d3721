"""Adaptive Card 1.5 checks for every card the Teams bot sends in the tests.

No kept package ships the Adaptive Card JSON schema (PyPI has only unofficial builders; npm's
``adaptivecards`` 3.0.6 ships its TypeScript object model, not schema JSON), so this checks what the
schema documents (adaptivecards.io/explorer, schema 1.5) for the elements we use: the allowed element and
action types, each one's required and allowed properties and enum values, and Teams' ~28 KB message cap.
"""

from __future__ import annotations

import json
from typing import Any

MAX_BYTES = 28 * 1024
SPACING = {"None", "Small", "Default", "Medium", "Large", "ExtraLarge", "Padding"}
COMMON = {"type", "id", "isVisible", "spacing", "separator", "height", "requires", "fallback"}
ELEMENTS: dict[str, tuple[set[str], set[str]]] = {  # type -> (required, allowed)
    "TextBlock": (
        {"text"},
        COMMON
        | {"text", "wrap", "size", "weight", "color", "isSubtle", "maxLines", "horizontalAlignment"}
        | {"fontType", "style"},
    ),
    "ActionSet": ({"actions"}, COMMON | {"actions"}),
}
ACTIONS: dict[str, tuple[set[str], set[str]]] = {
    "Action.Execute": (
        set(),
        {"type", "title", "verb", "data", "id", "iconUrl", "style", "associatedInputs"},
    ),
    "Action.OpenUrl": ({"url"}, {"type", "title", "url", "id", "iconUrl", "style"}),
}
ENUMS = {
    "size": {"Default", "Small", "Medium", "Large", "ExtraLarge"},
    "weight": {"Default", "Lighter", "Bolder"},
    "spacing": SPACING,
}


def violations(card: dict[str, Any]) -> list[str]:
    found: list[str] = []
    if card.get("type") != "AdaptiveCard":
        found.append("root type must be AdaptiveCard")
    if card.get("version") != "1.5":
        found.append(f"version {card.get('version')!r} (Teams: 1.5)")
    if len(json.dumps(card, ensure_ascii=False).encode()) > MAX_BYTES:
        found.append("card over 28 KB")
    if set(card) - {"type", "$schema", "version", "body", "actions", "msteams", "fallbackText", "speak"}:
        found.append(f"unknown card properties {set(card)}")
    for element in card.get("body") or []:
        found += element_violations(element)
    for action in card.get("actions") or []:
        found += typed_violations(action, ACTIONS, "action")
    return found


def element_violations(element: dict[str, Any]) -> list[str]:
    found = typed_violations(element, ELEMENTS, "element")
    if element.get("type") == "TextBlock" and not isinstance(element.get("text"), str):
        found.append("TextBlock.text must be a string")
    for action in element.get("actions") or [] if element.get("type") == "ActionSet" else []:
        found += typed_violations(action, ACTIONS, "action")
        if action.get("type") == "Action.Execute" and not isinstance(action.get("data", {}), dict):
            found.append("Action.Execute.data must be an object")
    return found


def typed_violations(
    item: dict[str, Any], kinds: dict[str, tuple[set[str], set[str]]], what: str
) -> list[str]:
    kind = item.get("type")
    if kind not in kinds:
        return [f"unknown {what} type {kind!r}"]
    required, allowed = kinds[str(kind)]
    found = [f"{kind} lacks {name}" for name in required - set(item)]
    found += [f"{kind} has unknown property {name}" for name in set(item) - allowed]
    found += [
        f"{kind}.{name}={item[name]!r}"
        for name, values in ENUMS.items()
        if name in item and item[name] not in values
    ]
    return found
