"""Admin-page sign-in: session cookies, CSRF on every form, login throttling, role checks.

Cookies: the session cookie is HttpOnly, SameSite=Lax and Secure when the request came over https
(or always/never by setting). Its token is new at every login (no fixation) and deleted at logout.
Every POST carries the session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``); the login
form, before any session exists, uses a double-submit cookie.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response, status
from sqlalchemy import select

from core import accounts, audit
from core.accounts import Viewer
from core.ratelimit import Rate, RateLimiter
from core.tables import Workspace
from hub.deps import ServicesDep

SESSION_COOKIE = "sb_session"
LOGIN_CSRF_COOKIE = "sb_login_csrf"
CSRF_HEADER = "x-csrf-token"


class LoginRequired(Exception):
    """No valid session: browsers are sent to the login page."""


@dataclass(frozen=True, slots=True)
class Signed:
    """The signed-in user of a request, with the session's CSRF token."""

    viewer: Viewer
    csrf: str

    def actor(self) -> str:
        return self.viewer.email


def secure(request: Request) -> bool:
    mode = request.app.state.services.settings.admin.secure_cookies
    if mode != "auto":
        return bool(mode == "always")
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    return proto.split(",")[0].strip() == "https"


def set_session_cookie(request: Request, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure(request),
    )


def login_csrf(request: Request, response: Response) -> str:
    """The login form's CSRF token: the cookie's, or a new one set on the response."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/admin",
        httponly=True,
        samesite="strict",
        secure=secure(request),
    )
    return token


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


async def signed_in(request: Request, services: ServicesDep) -> Signed:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired
    async with services.sessions() as session:
        found = await accounts.find_session(session, token)
        if found is None:
            raise LoginRequired
        user, login = found
        viewer = await accounts.viewer_of(session, user)
    return Signed(viewer, login.csrf)


SignedDep = Annotated[Signed, Depends(signed_in)]


async def checked(request: Request, signed: SignedDep) -> Signed:
    """A signed-in POST: refused (403) without the session's CSRF token."""
    presented = request.headers.get(CSRF_HEADER)
    form_type = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    if presented is None and form_type:  # multipart (uploads) sends the header: its body is streamed
        presented = str((await request.form()).get("csrf") or "")
    if not same(presented, signed.csrf):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="missing or wrong CSRF token")
    return signed


CheckedDep = Annotated[Signed, Depends(checked)]


def require_owner(signed: Signed) -> None:
    if not signed.viewer.is_owner:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only an owner can do this")


async def workspace_for(services: ServicesDep, signed: Signed, name: str, role: str) -> Workspace:
    """The named workspace if the user holds ``role`` there; another workspace looks like a missing one."""
    async with services.sessions() as session:
        found = await session.scalar(select(Workspace).where(Workspace.name == name))
    if found is None or not signed.viewer.can(found.id, "viewer"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"workspace {name!r} not found")
    if not signed.viewer.can(found.id, role):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"this needs the {role} role in {name}")
    return found


async def throttle(request: Request, services: ServicesDep, email: str) -> None:
    """Login throttling per email and per client address (shared by every process through Redis)."""
    if services.redis is None:
        return
    rate = Rate.parse(services.settings.admin.login_rate)
    client = request.client.host if request.client else "unknown"
    limiter = RateLimiter(services.redis, prefix="switchboard:login")
    await limiter.check(
        [(f"email:{email.lower()}", rate), (f"ip:{client}", rate)], "Too many sign-in attempts."
    )


def session_lifetime(services: ServicesDep) -> timedelta:
    return timedelta(hours=services.settings.admin.session_hours)


async def record(services: ServicesDep, entry: audit.Entry) -> None:
    await audit.AuditLog(services.sessions).record(entry)
