"""Confluence (Server/Data Center and Cloud) through atlassian-python-api.

Incremental by CQL on ``lastmodified`` since the cursor, paginated with start/limit; page
``body.storage`` is XHTML, parsed by the HTML parser so headings become sections; pdf and docx
attachments are fetched too; read restrictions (users, groups) become the document ACL; deletions are
found by sweeping the space's current ids. The client is always built with ``cloud=False``: on Cloud the
v1 REST paths live under ``https://<site>.atlassian.net/wiki`` (DESIGN.md trap 8).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
from atlassian import Confluence
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.base import Item, Page, dump_cursor, http_error, load_cursor
from core.errors import TransientError

T = TypeVar("T")
ATTACHMENT_TYPES = {
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}
EXPAND = ",".join(
    [
        "body.storage",
        "version",
        "space",
        "restrictions.read.restrictions.user",
        "restrictions.read.restrictions.group",
        "children.attachment",
        "ancestors",
    ]
)


class ConfluenceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="base URL (Cloud: https://example.atlassian.net/wiki)")
    space: str = Field(pattern=r"^[A-Za-z0-9_~-]{1,255}$")
    page_size: int = Field(default=50, ge=1, le=200)
    attachments: bool = True


class ConfluenceSecret(BaseModel):
    """Cloud: ``username`` (email) + ``password`` (API token). Server/DC: ``token`` (a personal token)."""

    model_config = ConfigDict(extra="forbid")

    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None


def cql_date(when: datetime) -> str:
    """CQL dates have minute precision; ``>=`` on the floored minute re-reads at most that minute."""
    return when.astimezone(UTC).strftime("%Y/%m/%d %H:%M")


def parse_when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def page_acl(content: dict[str, Any]) -> list[str] | None:
    """Read restrictions as principals: user emails (else ``confluence:<accountId>``) and ``group:<name>``.

    No read restriction means everyone who can see the space (public within the workspace).
    """
    return restriction_acl((content.get("restrictions") or {}).get("read") or {})


def restriction_acl(read_operation: dict[str, Any]) -> list[str] | None:
    read = read_operation.get("restrictions") or {}
    users = (read.get("user") or {}).get("results") or []
    groups = (read.get("group") or {}).get("results") or []
    principals = [user_principal(u) for u in users] + [f"group:{g.get('name', '')}" for g in groups]
    principals = [p for p in principals if p and p != "group:"]
    return principals or None


def user_principal(user: dict[str, Any]) -> str:
    email = user.get("email")
    if email:
        return str(email).lower()
    key = user.get("accountId") or user.get("username") or user.get("userKey")
    return f"confluence:{key}" if key else ""


class ConfluenceConnector:
    def __init__(self, config: ConfluenceConfig, secret: ConfluenceSecret, *, timeout_s: float) -> None:
        self.config = config
        self.base = config.url.rstrip("/")
        self.inherited: dict[str, list[str] | None] = {}  # ancestor id -> its own read restriction
        self.client = Confluence(  # type: ignore[no-untyped-call]
            url=self.base,
            username=secret.username,
            password=secret.password.get_secret_value() if secret.password else None,
            token=secret.token.get_secret_value() if secret.token else None,
            cloud=False,
            timeout=int(timeout_s),
        )

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one blocking client call off the loop, mapping HTTP failures onto the error tree."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except requests.HTTPError as exc:
            response = exc.response
            if response is None:
                raise TransientError(f"Confluence request failed: {exc}") from exc
            raise http_error("Confluence", response.status_code, response.headers, str(exc)) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(f"Confluence is unreachable: {exc}") from exc

    def cql(self, since: str | None) -> str:
        query = f'space = "{self.config.space}" and type = page'
        if since:
            query += f' and lastmodified >= "{since}"'
        return query + " order by lastmodified asc"

    async def search(self, cql: str, start: int, expand: str) -> dict[str, Any]:
        params = {"cql": cql, "start": start, "limit": self.config.page_size, "expand": expand}
        found: Any = await self.call(self.client.get, "rest/api/content/search", params=params)
        return found if isinstance(found, dict) else {}

    async def pages(self, cursor: str | None) -> AsyncIterator[Page]:
        try:
            async for page in self.rounds(cursor):
                yield page
        finally:
            self.client.close()  # its requests session: no keep-alive connection outlives the sync

    async def rounds(self, cursor: str | None) -> AsyncIterator[Page]:
        state = load_cursor(cursor)
        since: str | None = state.get("since")
        start = int(state.get("start", 0))
        high = parse_when(state.get("high"))
        while True:
            found = await self.search(self.cql(since), start, EXPAND)
            results: list[dict[str, Any]] = found.get("results") or []
            items, failures = await self.items(results)
            for content in results:
                when = parse_when((content.get("version") or {}).get("when"))
                high = max(high, when) if high and when else (high or when)
            start += len(results)
            more = bool(results) and bool((found.get("_links") or {}).get("next"))
            progress = {"since": since, "start": start, "high": high.isoformat() if high else None}
            yield Page(dump_cursor(progress), upserts=items, failures=failures)
            if not more:
                break
        final = {"since": cql_date(high) if high else since}
        yield Page(dump_cursor(final), present=await self.current_ids())

    async def current_ids(self) -> set[str]:
        """Every page and attachment id in the space now: the sweep removes the rest."""
        ids: set[str] = set()
        start = 0
        while True:
            found = await self.search(self.cql(None), start, "children.attachment")
            results: list[dict[str, Any]] = found.get("results") or []
            for content in results:
                ids.add(str(content["id"]))
                ids.update(self.attachment_id(content, a) for a in self.attachments_of(content))
            start += len(results)
            if not results or not (found.get("_links") or {}).get("next"):
                return ids

    async def items(self, results: list[dict[str, Any]]) -> tuple[list[Item], list[tuple[str, str]]]:
        items: list[Item] = []
        failures: list[tuple[str, str]] = []
        for content in results:
            page = self.page_item(content, await self.acl(content))
            items.append(page)
            for attachment in self.attachments_of(content):
                try:
                    items.append(await self.attachment_item(content, attachment, page))
                except TransientError:
                    raise
                except Exception as exc:
                    failures.append((self.attachment_id(content, attachment), str(exc)))
        return items, failures

    def link(self, content: dict[str, Any]) -> str | None:
        links = content.get("_links") or {}
        webui = links.get("webui")
        if not webui:
            return None
        return f"{links.get('base') or self.base}{webui}"

    async def acl(self, content: dict[str, Any]) -> list[str] | None:
        """A reader must pass the page's read restriction and every ancestor's (Confluence inherits
        them), so the ACL is the intersection of every restricted level; None when no level is."""
        levels = [page_acl(content)]
        for ancestor in content.get("ancestors") or []:
            levels.append(await self.ancestor_acl(str(ancestor["id"])))
        restricted = [set(level) for level in levels if level is not None]
        return sorted(set.intersection(*restricted)) if restricted else None

    async def ancestor_acl(self, content_id: str) -> list[str] | None:
        if content_id not in self.inherited:
            path = f"rest/api/content/{content_id}/restriction/byOperation"
            found: Any = await self.call(self.client.get, path)
            self.inherited[content_id] = restriction_acl((found or {}).get("read") or {})
        return self.inherited[content_id]

    def page_item(self, content: dict[str, Any], acl: list[str] | None) -> Item:
        storage = ((content.get("body") or {}).get("storage") or {}).get("value") or ""
        title = str(content.get("title") or content["id"])
        html = f"<html><head><title>{_escape(title)}</title></head><body>{storage}</body></html>"
        return Item(
            id=str(content["id"]),
            data=html.encode(),
            title=title,
            url=self.link(content),
            doc_type="html",
            acl=acl,
            updated_at=parse_when((content.get("version") or {}).get("when")),
        )

    def attachments_of(self, content: dict[str, Any]) -> list[dict[str, Any]]:
        if not self.config.attachments:
            return []
        found = ((content.get("children") or {}).get("attachment") or {}).get("results") or []
        return [a for a in found if media_type(a) in ATTACHMENT_TYPES]

    @staticmethod
    def attachment_id(content: dict[str, Any], attachment: dict[str, Any]) -> str:
        return f"{content['id']}/attachment/{attachment['id']}"

    async def attachment_item(self, content: dict[str, Any], attachment: dict[str, Any], page: Item) -> Item:
        download = str((attachment.get("_links") or {}).get("download") or "")
        if not download:
            raise ValueError("the attachment has no download link")
        data: Any = await self.call(self.client.get, download.lstrip("/"), not_json_response=True)
        if not isinstance(data, bytes):
            raise ValueError("the attachment download returned no bytes")
        title = str(attachment.get("title") or attachment["id"])
        return Item(
            id=self.attachment_id(content, attachment),
            data=data,
            title=f"{page.title} / {title}",
            url=page.url,
            doc_type=ATTACHMENT_TYPES[media_type(attachment)],
            filename=title,
            acl=page.acl,  # an attachment is readable by whoever may read its page
            updated_at=page.updated_at,
        )


def media_type(attachment: dict[str, Any]) -> str:
    metadata = attachment.get("metadata") or {}
    extensions = attachment.get("extensions") or {}
    return str(metadata.get("mediaType") or extensions.get("mediaType") or "")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
