"""A loopback fake of the Confluence v1 REST API, replaying ../shared/fixtures/confluence.

Each page is the fixture ``page_with_body_storage.json`` with its id, title, ``body.storage``,
``version.when`` and ``_links`` replaced. ``GET /rest/api/content/search`` understands the CQL the
connector sends (space, type, ``lastmodified >= "yyyy/MM/dd HH:mm"``, order by lastmodified) with
start/limit pagination. No public capture of a CQL search page or an attachment list exists (SOURCES.md,
"Missing"): their envelopes (``results``, ``start``, ``limit``, ``size``, ``_links.next``; attachment
``metadata.mediaType`` and ``_links.download``; ``restriction/byOperation``) are written from
Atlassian's documented schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import FIXTURES
from tests.support.live import serve

TEMPLATE: dict[str, Any] = json.loads((FIXTURES / "confluence" / "page_with_body_storage.json").read_text())
SINCE = re.compile(r'lastmodified >= "(\d{4}/\d{2}/\d{2} \d{2}:\d{2})"')
SPACE = re.compile(r'space = "([^"]+)"')
EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass
class Attachment:
    id: str
    title: str
    media_type: str
    data: bytes


@dataclass
class FakePage:
    id: str
    title: str
    body: str
    when: datetime
    users: list[str] = field(default_factory=list)  # emails with read restriction
    groups: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    parent: str | None = None  # restrictions of ancestors are inherited


@dataclass
class FakeConfluence:
    space: str = "ENG"
    base_url: str = ""
    pages: dict[str, FakePage] = field(default_factory=dict)
    searches: list[dict[str, str]] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)
    refuse_auth: bool = False
    delay_s: float = 0.0  # per search request: lets a test kill a worker midway

    def add(self, page_id: str, title: str, body: str, *, minute: int, **extra: Any) -> FakePage:
        page = FakePage(page_id, title, body, EPOCH + timedelta(minutes=minute), **extra)
        self.pages[page_id] = page
        return page

    def content(self, page: FakePage, expand: str) -> dict[str, Any]:
        item = copy.deepcopy(TEMPLATE)
        item.update(id=page.id, title=page.title)
        item["space"]["key"] = self.space
        item["version"]["when"] = page.when.isoformat().replace("+00:00", "Z")
        item["body"]["storage"]["value"] = page.body
        item["_links"]["webui"] = f"/spaces/{self.space}/pages/{page.id}"
        item["_links"]["base"] = self.base_url
        if "restrictions" in expand:
            item["restrictions"] = {"read": {"operation": "read", "restrictions": self.restrictions(page)}}
        if "ancestors" in expand:
            item["ancestors"] = [
                {"id": a, "type": "page", "title": self.pages[a].title} for a in self.ancestors(page)
            ]
        if "children.attachment" in expand:
            item["children"] = {
                "attachment": {"results": [self.attachment(page, a) for a in page.attachments]}
            }
        return item

    def ancestors(self, page: FakePage) -> list[str]:
        found: list[str] = []
        while page.parent and page.parent in self.pages:
            found.insert(0, page.parent)
            page = self.pages[page.parent]
        return found

    async def by_operation(self, request: Request) -> Response:
        page = self.pages.get(request.path_params["id"])
        if page is None:
            return JSONResponse({"message": "not found"}, 404)
        return JSONResponse({"read": {"operation": "read", "restrictions": self.restrictions(page)}})

    @staticmethod
    def restrictions(page: FakePage) -> dict[str, Any]:
        users = [{"type": "known", "accountId": f"acc-{e}", "email": e} for e in page.users]
        groups = [{"type": "group", "name": g} for g in page.groups]
        return {
            "user": {"results": users, "size": len(users)},
            "group": {"results": groups, "size": len(groups)},
        }

    @staticmethod
    def attachment(page: FakePage, att: Attachment) -> dict[str, Any]:
        return {
            "id": att.id,
            "type": "attachment",
            "title": att.title,
            "metadata": {"mediaType": att.media_type},
            "_links": {"download": f"/download/attachments/{page.id}/{att.id}?version=1&api=v2"},
        }

    def matching(self, cql: str) -> list[FakePage]:
        space = SPACE.search(cql)
        if space is None or space.group(1) != self.space:
            return []
        since = SINCE.search(cql)
        floor = datetime.strptime(since.group(1), "%Y/%m/%d %H:%M").replace(tzinfo=UTC) if since else None
        found = [p for p in self.pages.values() if floor is None or p.when >= floor]
        return sorted(found, key=lambda p: (p.when, p.id))

    async def search(self, request: Request) -> Response:
        if self.refuse_auth:
            return Response("Unauthorized", 401, media_type="text/plain")
        params = dict(request.query_params)
        self.searches.append(params)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        start, limit = int(params.get("start", 0)), int(params.get("limit", 25))
        found = self.matching(params.get("cql", ""))
        window = found[start : start + limit]
        links: dict[str, Any] = {"base": self.base_url, "context": ""}
        if start + limit < len(found):
            links["next"] = "/rest/api/content/search?" + urlencode({**params, "start": start + limit})
        results = [self.content(p, params.get("expand", "")) for p in window]
        return JSONResponse(
            {"results": results, "start": start, "limit": limit, "size": len(results), "_links": links}
        )

    async def download(self, request: Request) -> Response:
        page = self.pages.get(request.path_params["page"])
        found = [a for a in (page.attachments if page else []) if a.id == request.path_params["att"]]
        if not found:
            return JSONResponse({"message": "not found"}, 404)
        self.downloads.append(found[0].id)
        return Response(found[0].data, media_type=found[0].media_type)


@contextlib.asynccontextmanager
async def fake_confluence() -> AsyncIterator[FakeConfluence]:
    fake = FakeConfluence()
    app = Starlette(
        routes=[
            Route("/rest/api/content/search", fake.search),
            Route("/download/attachments/{page}/{att}", fake.download),
            Route("/rest/api/content/{id}/restriction/byOperation", fake.by_operation),
        ]
    )
    async with serve(app) as live:
        fake.base_url = live.base_url
        yield fake
