"""Web pages: conditional refresh with ETag / Last-Modified, 404 removes the document, clean text from
HTML, and the URL guard (only http(s); private, loopback and link-local refused unless allowed)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from connectors.urls import check_url
from core import workspaces
from core.errors import InvalidInput
from core.jobs import ItemResult
from core.tables import Document, Workspace
from hub import sources
from hub.container import Services
from tests.support.live import serve

PAGE = (
    "<html><head><title>{title}</title><script>track()</script></head>"
    "<body><nav>Menu</nav><h1>{title}</h1><p>{body}</p></body></html>"
)


@dataclass
class Site:
    base_url: str = ""
    pages: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # path -> (etag, title, body)
    conditional: list[str] = field(default_factory=list)
    hits: int = 0

    async def page(self, request: Request) -> Response:
        path = request.path_params["path"]
        self.hits += 1
        if path == "moved":
            return RedirectResponse("/policy", 301)
        if path not in self.pages:
            return Response("gone", 404)
        etag, title, body = self.pages[path]
        if request.headers.get("if-none-match") == etag:
            self.conditional.append(path)
            return Response(status_code=304, headers={"ETag": etag})
        html = PAGE.format(title=title, body=body)
        return Response(
            html,
            media_type="text/html",
            headers={"ETag": etag, "Last-Modified": "Mon, 05 Jan 2026 09:00:00 GMT"},
        )


@contextlib.asynccontextmanager
async def site() -> AsyncIterator[Site]:
    fake = Site()
    async with serve(Starlette(routes=[Route("/{path}", fake.page)])) as live:
        fake.base_url = live.base_url
        yield fake


async def sync_once(services: Services, workspace: Workspace, source_id: int) -> dict[str, int]:
    seen: list[ItemResult] = []

    async def report(results: list[ItemResult]) -> None:
        seen.extend(results)

    await services.ports.syncers["web"](await sources.get(services, workspace, source_id), report)
    counts: dict[str, int] = {}
    for result in seen:
        counts[result.status] = counts.get(result.status, 0) + 1
    return counts


async def test_etag_refresh_404_delete_and_clean_text(conn_services: Services) -> None:
    services = conn_services
    async with site() as web:
        web.pages["policy"] = ('"v1"', "Travel policy", "Book flights two weeks ahead.")
        web.pages["faq"] = ('"f1"', "FAQ", "Expenses are paid monthly.")
        async with services.sessions.begin() as session:
            workspace = await workspaces.create(session, "intranet")
        urls = [f"{web.base_url}/moved", f"{web.base_url}/faq"]
        source = await sources.add(
            services, workspace, source_type="web", name="pages", config={"urls": urls}
        )
        assert await sync_once(services, workspace, source.id) == {"created": 2}
        async with services.sessions() as session:
            policy = await session.scalar(select(Document).where(Document.title == "Travel policy"))
        assert policy is not None and policy.url == f"{web.base_url}/policy"  # after the redirect
        assert "Book flights" in policy.text and "track()" not in policy.text and "Menu" not in policy.text

        assert await sync_once(services, workspace, source.id) == {}  # both answered 304
        assert sorted(web.conditional) == ["faq", "policy"]
        web.pages["faq"] = ('"f2"', "FAQ", "Expenses are now paid weekly.")
        del web.pages["policy"]
        assert await sync_once(services, workspace, source.id) == {"updated": 1, "deleted": 1}


async def test_private_addresses_are_refused_unless_allowed(services: Services) -> None:
    for url in (
        "http://127.0.0.1/",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
    ):
        with pytest.raises(InvalidInput, match="private or loopback"):
            await check_url(url, allow_private=False)
    for url in ("ftp://example.com/", "file:///etc/passwd", "http:///nohost", "https://user:pw@example.com/"):
        with pytest.raises(InvalidInput):
            await check_url(url, allow_private=True)
    async with site() as web:
        web.pages["faq"] = ('"f1"', "FAQ", "Expenses are paid monthly.")
        async with services.sessions.begin() as session:
            workspace = await workspaces.create(session, "strict")
        config = {"urls": [f"{web.base_url}/faq"]}
        source = await sources.add(services, workspace, source_type="web", name="pages", config=config)
        assert await sync_once(services, workspace, source.id) == {"failed": 1}
        assert web.hits == 0  # refused before any request was sent
