"""Web pages: a list of URLs refreshed with conditional requests (ETag / Last-Modified).

Only http(s); every URL and every redirect hop is checked by ``connectors.urls`` (private and loopback
addresses refused unless allowed). A 304 keeps the document; 404/410 removes it; URLs dropped from the
list are swept. HTML becomes clean text through the shared HTML parser (scripts, nav, footers dropped).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
from pydantic import BaseModel, ConfigDict, Field

from connectors.base import Item, Page, dump_cursor, http_error, load_cursor
from connectors.urls import check_shape, check_url
from core.errors import InvalidInput, PermanentError, TransientError

MAX_REDIRECTS = 5
GONE = frozenset({404, 410})


class WebConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    urls: list[str] = Field(min_length=1, max_length=1000)
    max_page_mb: int = Field(default=10, gt=0, le=100)

    def model_post_init(self, context: Any, /) -> None:
        for url in self.urls:
            check_shape(url)


class WebSecret(BaseModel):
    """Optional request headers (for example an ``Authorization`` for an intranet page)."""

    model_config = ConfigDict(extra="forbid")

    headers: dict[str, str] = Field(default_factory=dict)


def doc_type_of(response: httpx.Response) -> str | None:
    kind = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return {"text/html": "html", "application/xhtml+xml": "html", "text/plain": "txt"}.get(kind)


class WebConnector:
    def __init__(
        self,
        config: WebConfig,
        secret: WebSecret,
        *,
        timeout_s: float,
        allow_private: bool,
        ca_bundle: Path | None = None,
    ) -> None:
        self.config = config
        self.allow_private = allow_private
        verify: ssl.SSLContext | bool = True
        if ca_bundle:
            verify = ssl.create_default_context(cafile=str(ca_bundle))
        self.http = httpx.AsyncClient(
            timeout=timeout_s, verify=verify, trust_env=False, follow_redirects=False, headers=secret.headers
        )

    async def pages(self, cursor: str | None) -> AsyncIterator[Page]:
        state = load_cursor(cursor)
        try:
            for url in self.config.urls:
                validators = dict(state.get(url) or {})
                page = await self.fetch(url, validators)
                if page.upserts:
                    state[url] = validators
                if page.deletes:
                    state.pop(url, None)
                yield Page(
                    dump_cursor(state), upserts=page.upserts, deletes=page.deletes, failures=page.failures
                )
            known = {u: v for u, v in state.items() if u in self.config.urls}
            yield Page(dump_cursor(known), present=set(self.config.urls))
        finally:
            await self.http.aclose()

    async def fetch(self, url: str, validators: dict[str, str]) -> Page:
        """One URL: a changed page, nothing (304), a delete (404/410), or a failure for this URL only."""
        headers = {}
        if validators.get("etag"):
            headers["If-None-Match"] = validators["etag"]
        if validators.get("last_modified"):
            headers["If-Modified-Since"] = validators["last_modified"]
        try:
            response = await self.get(url, headers)
        except (InvalidInput, PermanentError) as exc:
            return Page(None, failures=[(url, str(exc))])
        if response.status_code == 304:
            return Page(None)
        if response.status_code in GONE:
            return Page(None, deletes=[url])
        if response.status_code >= 400:
            error = http_error("web page", response.status_code, response.headers)
            if isinstance(error, TransientError):
                raise error
            return Page(None, failures=[(url, str(error))])
        validators.update(etag=response.headers.get("etag", ""))
        validators.update(last_modified=response.headers.get("last-modified", ""))
        return Page(None, upserts=[self.item(url, response)])

    def item(self, url: str, response: httpx.Response) -> Item:
        return Item(
            id=url, data=response.content, title="", url=str(response.url), doc_type=doc_type_of(response)
        )

    async def get(self, url: str, headers: dict[str, str]) -> httpx.Response:
        """GET following redirects by hand, so every hop passes the URL guard."""
        for _ in range(MAX_REDIRECTS + 1):
            await check_url(url, allow_private=self.allow_private)
            try:
                response = await self.http.get(url, headers=headers)
            except httpx.TransportError as exc:
                raise TransientError(f"{url} is unreachable: {exc}") from exc
            if response.is_redirect and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                continue
            if len(response.content) > self.config.max_page_mb * 1024 * 1024:
                raise PermanentError(f"{url} is over the {self.config.max_page_mb} MB page cap")
            return response
        raise PermanentError(f"{url} redirected more than {MAX_REDIRECTS} times")
