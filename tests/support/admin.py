"""The admin side over real HTTP: the real app under uvicorn, users with roles, and a browser-like login."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from argon2 import PasswordHasher

from core import accounts, workspaces
from core.embeddings import Embedder
from hub.app import create_app
from hub.settings import Settings
from tests.support.live import LiveApp, serve

PASSWORD = "correct horse battery staple"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@dataclass
class AdminHub:
    live: LiveApp

    @property
    def base_url(self) -> str:
        return self.live.base_url

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=30, follow_redirects=False)


async def add_user(
    live: LiveApp, email: str, *, owner: bool = False, roles: dict[str, str] | None = None
) -> None:
    async with live.services.sessions.begin() as session:
        user, _ = await accounts.create_user(session, PasswordHasher(), email, owner=owner, password=PASSWORD)
        for name, role in (roles or {}).items():
            await accounts.set_role(session, user, await workspaces.get_or_create(session, name), role)


async def login(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    form = await http.get("/admin/login")
    match = CSRF_FIELD.search(form.text)
    assert match is not None, form.text
    return await http.post(
        "/admin/login", data={"email": email, "password": password, "csrf": match.group(1)}
    )


async def page_csrf(http: httpx.AsyncClient, path: str = "/admin") -> str:
    response = await http.get(path)
    assert response.status_code == 200, response.text
    match = CSRF_META.search(response.text)
    assert match is not None
    return match.group(1)


@contextlib.asynccontextmanager
async def admin_hub(settings: Settings, embedder: Embedder) -> AsyncIterator[AdminHub]:
    """Workspaces alpha and beta; an owner, an editor and a viewer of alpha, an admin of beta."""
    async with serve(create_app(settings, embedder=embedder)) as live:
        async with live.services.sessions.begin() as session:
            await workspaces.create(session, "alpha")
            await workspaces.create(session, "beta")
        await add_user(live, "owner@example.com", owner=True)
        await add_user(live, "editor@example.com", roles={"alpha": "editor"})
        await add_user(live, "viewer@example.com", roles={"alpha": "viewer"})
        await add_user(live, "beta-admin@example.com", roles={"beta": "admin"})
        yield AdminHub(live)
