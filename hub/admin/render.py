"""Templates, the navigation, and the page helper every admin route uses.

To add a page (e.g. analytics): add a ``NavItem`` to ``NAV``, a template extending ``base.html``, and a
route that calls ``page(request, signed, "name.html", ...)``; guard it with ``auth.workspace_for`` or
``auth.require_owner``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from core.accounts import Viewer
from hub.admin.auth import Signed

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    path: str
    visible: Callable[[Viewer], bool]


def anyone(viewer: Viewer) -> bool:
    return True


def admins(viewer: Viewer) -> bool:
    return viewer.is_any_admin()


def owners(viewer: Viewer) -> bool:
    return viewer.is_owner


NAV: tuple[NavItem, ...] = (
    NavItem("Dashboard", "/admin", anyone),
    NavItem("Workspaces", "/admin/workspaces", anyone),
    NavItem("Channels", "/admin/channels", anyone),
    NavItem("Sources", "/admin/sources", anyone),
    NavItem("Uploads", "/admin/uploads", anyone),
    NavItem("Jobs", "/admin/jobs", anyone),
    NavItem("API keys", "/admin/keys", admins),
    NavItem("Users", "/admin/users", owners),
    NavItem("LLM providers", "/admin/llm", owners),
    NavItem("Audit log", "/admin/audit", admins),
    NavItem("Analytics", "/admin/analytics", admins),
    NavItem("Webhooks", "/admin/webhooks", admins),
    NavItem("Saved queries", "/admin/saved", anyone),
)


def templates(request: Request) -> Jinja2Templates:
    found: Jinja2Templates = request.app.state.admin_templates
    return found


def page(request: Request, signed: Signed, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    nav = [item for item in NAV if item.visible(signed.viewer)]
    return templates(request).TemplateResponse(
        request,
        name,
        {"signed": signed, "viewer": signed.viewer, "csrf": signed.csrf, "nav": nav, **context},
        status_code=status_code,
    )


def back(path: str, **query: str) -> RedirectResponse:
    """Post/redirect/get: back to a page, with a short notice in the query string."""
    from urllib.parse import urlencode

    suffix = f"?{urlencode(query)}" if query else ""
    return RedirectResponse(path + suffix, status_code=303)
