"""SharePoint and OneDrive through msal (client credentials) and Microsoft Graph drive ``delta``.

The cursor is the next Graph link to read: an ``@odata.nextLink`` while a round is under way (so a
crash resumes mid-round), then the ``@odata.deltaLink`` that starts the next incremental round. Items
with the ``deleted`` facet remove their document; files are downloaded and parsed; item permissions
become the ACL (an organization or anonymous sharing link makes the item public in the workspace).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import msal
import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.base import Item, Page, dump_cursor, http_error, load_cursor
from connectors.confluence import parse_when
from core.errors import AuthError, TransientError

PUBLIC_LINK_SCOPES = frozenset({"anonymous", "organization"})


class ResyncRequired(Exception):
    """Graph answered 410 Gone for a delta link: start a full round again."""


class SharePointConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: str = Field(pattern=r"^[A-Za-z0-9.-]{1,128}$")
    client_id: str = Field(min_length=1, max_length=128)
    drive_id: str = Field(min_length=1, max_length=256)
    graph_url: str = "https://graph.microsoft.com/v1.0"
    authority_host: str = "https://login.microsoftonline.com"
    scope: str = "https://graph.microsoft.com/.default"
    permissions: bool = True  # read item permissions into the ACL (needs Sites.Read.All or Files.Read.All)
    max_file_mb: int = Field(default=50, gt=0)


class SharePointSecret(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_secret: SecretStr


def principal(identity: dict[str, Any]) -> list[str]:
    """ACL principals of one Graph identitySet: user emails, groups as ``group:<email or name>``."""
    found: list[str] = []
    user = identity.get("user") or {}
    if user:
        email = user.get("email") or user.get("userPrincipalName")
        found.append(str(email).lower() if email else f"entra:{user.get('id', '')}")
    for kind in ("group", "siteGroup"):
        group = identity.get(kind) or {}
        if group:
            name = group.get("email") or group.get("displayName") or group.get("id")
            found.append(f"group:{str(name).lower() if group.get('email') else name}")
    return found


def permissions_acl(permissions: list[dict[str, Any]]) -> list[str] | None:
    """None (public in the workspace) when an organization/anonymous link exists, else who was granted."""
    principals: list[str] = []
    for permission in permissions:
        if (permission.get("link") or {}).get("scope") in PUBLIC_LINK_SCOPES:
            return None
        identities = [permission.get("grantedToV2") or permission.get("grantedTo") or {}]
        identities += permission.get("grantedToIdentitiesV2") or permission.get("grantedToIdentities") or []
        for identity in identities:
            principals += principal(identity)
    return sorted(set(principals))


class SharePointConnector:
    def __init__(
        self,
        config: SharePointConfig,
        secret: SharePointSecret,
        *,
        timeout_s: float,
        ca_bundle: Path | None = None,
    ) -> None:
        self.config = config
        self.graph = config.graph_url.rstrip("/")
        self.secret = secret
        self.ca_bundle = ca_bundle
        self.timeout_s = timeout_s
        self.app: msal.ConfidentialClientApplication | None = None
        self.session = requests.Session()  # msal's; closed with the httpx client when a sync ends
        self.session.trust_env = False
        self.session.verify = str(ca_bundle) if ca_bundle else True
        verify: ssl.SSLContext | bool = True
        if ca_bundle:
            verify = ssl.create_default_context(cafile=str(ca_bundle))
        self.http = httpx.AsyncClient(
            timeout=timeout_s, verify=verify, trust_env=False, follow_redirects=True
        )

    def login(self) -> dict[str, Any]:
        """Blocking (msal reads the authority's OpenID configuration when built): run in a thread."""
        if self.app is None:
            self.app = msal.ConfidentialClientApplication(
                self.config.client_id,
                client_credential=self.secret.client_secret.get_secret_value(),
                authority=f"{self.config.authority_host.rstrip('/')}/{self.config.tenant_id}",
                http_client=self.session,
                instance_discovery=False,  # a configured authority host is trusted as given
                timeout=self.timeout_s,
            )
        result: dict[str, Any] = self.app.acquire_token_for_client(scopes=[self.config.scope])
        return result

    async def token(self) -> str:
        try:
            result = await asyncio.to_thread(self.login)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(f"the Microsoft login endpoint is unreachable: {exc}") from exc
        except ValueError as exc:  # msal: authority / discovery problems
            raise AuthError(f"Microsoft login failed: {exc}") from exc
        if "access_token" not in result:
            reason = result.get("error_description") or result.get("error") or "no token"
            raise AuthError(f"Microsoft login refused the client credentials: {str(reason)[:300]}")
        return str(result["access_token"])

    async def get(self, url: str, *, signed: bool = True) -> httpx.Response:
        """GET with the bearer token; ``signed=False`` for pre-authenticated download URLs (no token sent)."""
        headers = {"Authorization": f"Bearer {await self.token()}"} if signed else {}
        try:
            response = await self.http.get(url, headers=headers)
        except httpx.TransportError as exc:
            raise TransientError(f"Microsoft Graph is unreachable: {exc}") from exc
        if response.status_code == 410 and "/delta" in url:
            raise ResyncRequired(f"the delta token expired: {response.text[:200]}")
        if response.status_code >= 400:
            raise http_error("Microsoft Graph", response.status_code, response.headers, response.text)
        return response

    def first_link(self) -> str:
        return f"{self.graph}/drives/{quote(self.config.drive_id, safe='!')}/root/delta"

    async def pages(self, cursor: str | None) -> AsyncIterator[Page]:
        try:
            async for page in self.rounds(str(load_cursor(cursor).get("link") or "")):
                yield page
        finally:
            await self.http.aclose()
            self.session.close()

    async def rounds(self, link: str) -> AsyncIterator[Page]:
        """Follow nextLinks to the deltaLink. A full round (first sync, or Graph's 410 for an expired
        delta token) run start to end in this process also sweeps the ids it did not see."""
        seen: set[str] | None = set() if not link else None
        link = link or self.first_link()
        while True:
            try:
                body = (await self.get(link)).json()
            except ResyncRequired:
                seen, link = set(), self.first_link()
                continue
            values = body.get("value") or []
            if seen is not None:
                seen.update(str(v["id"]) for v in values if v.get("id") and "deleted" not in v)
            items, deletes, failures = await self.changes(values)
            next_link = body.get("@odata.nextLink")
            link = str(next_link or body.get("@odata.deltaLink") or self.first_link())
            yield Page(dump_cursor({"link": link}), upserts=items, deletes=deletes, failures=failures)
            if not next_link:
                break
        if seen is not None:
            yield Page(dump_cursor({"link": link}), present=seen)

    async def changes(
        self, values: list[dict[str, Any]]
    ) -> tuple[list[Item], list[str], list[tuple[str, str]]]:
        items: list[Item] = []
        deletes: list[str] = []
        failures: list[tuple[str, str]] = []
        for value in values:
            item_id = str(value.get("id", ""))
            if not item_id:
                continue
            if "deleted" in value:
                deletes.append(item_id)
            elif "file" in value:
                if int(value.get("size") or 0) > self.config.max_file_mb * 1024 * 1024:
                    failures.append((item_id, f"over the {self.config.max_file_mb} MB file cap"))
                    continue
                items.append(await self.file_item(value))
        return items, deletes, failures

    def item_url(self, item_id: str, tail: str) -> str:
        drive = quote(self.config.drive_id, safe="!")
        return f"{self.graph}/drives/{drive}/items/{quote(item_id, safe='')}/{tail}"

    async def file_item(self, value: dict[str, Any]) -> Item:
        item_id = str(value["id"])
        download = value.get("@microsoft.graph.downloadUrl")
        if download:  # short-lived and pre-authenticated: the bearer token must not travel with it
            data = (await self.get(str(download), signed=False)).content
        else:
            data = (await self.get(self.item_url(item_id, "content"))).content
        acl: list[str] | None = None
        if self.config.permissions:
            granted = (await self.get(self.item_url(item_id, "permissions"))).json().get("value") or []
            acl = permissions_acl(granted)
        name = str(value.get("name") or item_id)
        return Item(
            id=item_id,
            data=data,
            title=name,
            url=value.get("webUrl"),
            filename=name,
            acl=acl,
            updated_at=parse_when(value.get("lastModifiedDateTime")),
        )
