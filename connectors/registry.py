"""Source types: their config and secret schemas, and how to build a connector from them.

``hub`` validates what an admin sends with ``check`` (clear 4xx errors) and builds connectors with
``build`` inside the worker; nothing here touches the database or the encryption keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from connectors.base import Connector
from connectors.confluence import ConfluenceConfig, ConfluenceConnector, ConfluenceSecret
from connectors.sharepoint import SharePointConfig, SharePointConnector, SharePointSecret
from connectors.slack_history import SlackHistoryConfig, SlackHistoryConnector, SlackHistorySecret
from connectors.urls import check_url
from connectors.web import WebConfig, WebConnector, WebSecret
from core.errors import InvalidInput

TYPES = ("confluence", "sharepoint", "slack", "web")
SCHEMAS: dict[str, tuple[type[BaseModel], type[BaseModel]]] = {
    "confluence": (ConfluenceConfig, ConfluenceSecret),
    "sharepoint": (SharePointConfig, SharePointSecret),
    "slack": (SlackHistoryConfig, SlackHistorySecret),
    "web": (WebConfig, WebSecret),
}


@dataclass(frozen=True, slots=True)
class Options:
    """Process-wide connector settings (from ``SWITCHBOARD_CONNECTORS__*`` and ``SLACK__API_URL``)."""

    allow_private_urls: bool = False
    ca_bundle: Path | None = None
    timeout_s: float = 30.0
    slack_api_url: str = "https://slack.com/api/"


def _validated(model: type[BaseModel], data: dict[str, Any], what: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or what}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"invalid {what}: {problems}") from exc


def check(source_type: str, config: dict[str, Any], secret: dict[str, Any]) -> dict[str, Any]:
    """The normalised config of a source type, or InvalidInput naming each bad field."""
    if source_type not in SCHEMAS:
        raise InvalidInput(f"unknown source type {source_type!r}: use one of {', '.join(TYPES)}")
    config_model, secret_model = SCHEMAS[source_type]
    _validated(secret_model, secret, f"{source_type} secret")
    return _validated(config_model, config, f"{source_type} config").model_dump(mode="json")


def base_urls(source_type: str, config: BaseModel) -> list[str]:
    if isinstance(config, ConfluenceConfig):
        return [config.url]
    if isinstance(config, SharePointConfig):
        return [config.graph_url, config.authority_host]
    if isinstance(config, SlackHistoryConfig) and config.api_url:
        return [config.api_url]
    return []  # web pages are checked on every fetch, hop by hop


async def build(
    source_type: str, config: dict[str, Any], secret: dict[str, Any], options: Options
) -> Connector:
    """A connector for one sync; its configured service URLs pass the same guard as web pages."""
    check(source_type, config, secret)
    config_model, secret_model = SCHEMAS[source_type]
    parsed, credentials = config_model.model_validate(config), secret_model.model_validate(secret)
    for url in base_urls(source_type, parsed):
        await check_url(url, allow_private=options.allow_private_urls)
    if isinstance(parsed, ConfluenceConfig) and isinstance(credentials, ConfluenceSecret):
        return ConfluenceConnector(parsed, credentials, timeout_s=options.timeout_s)
    if isinstance(parsed, SharePointConfig) and isinstance(credentials, SharePointSecret):
        return SharePointConnector(
            parsed, credentials, timeout_s=options.timeout_s, ca_bundle=options.ca_bundle
        )
    if isinstance(parsed, SlackHistoryConfig) and isinstance(credentials, SlackHistorySecret):
        return SlackHistoryConnector(parsed, credentials, api_url=options.slack_api_url)
    if isinstance(parsed, WebConfig) and isinstance(credentials, WebSecret):
        return WebConnector(
            parsed,
            credentials,
            timeout_s=options.timeout_s,
            allow_private=options.allow_private_urls,
            ca_bundle=options.ca_bundle,
        )
    raise InvalidInput(f"unknown source type {source_type!r}")
