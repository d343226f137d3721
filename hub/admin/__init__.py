"""The admin web page at ``/admin``: server-rendered Jinja2, a little plain JavaScript, no build step."""

from __future__ import annotations

from argon2 import PasswordHasher
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import SwitchboardError
from hub import errors
from hub.admin import access_pages, data_pages, insight_pages, login, workspace_pages
from hub.admin.auth import LoginRequired
from hub.admin.render import STATIC, TEMPLATES, templates


async def to_login(request: Request, exc: Exception) -> Response:
    """Pages go to the login form; scripts (fetch, SSE) and POSTs get a plain 401."""
    if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
        return RedirectResponse("/admin/login", status_code=303)
    return JSONResponse({"detail": "sign in first"}, status_code=401)


def wants_page(request: Request) -> bool:
    return request.url.path.startswith("/admin") and "text/html" in request.headers.get("accept", "")


async def admin_http_error(request: Request, exc: Exception) -> Response:
    """On /admin, a browser gets a small HTML page for 4xx; scripts and the API keep JSON."""
    assert isinstance(exc, StarletteHTTPException)
    if not wants_page(request):
        return await http_exception_handler(request, exc)
    return error_page(request, exc.status_code, str(exc.detail))


async def admin_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SwitchboardError)
    if not wants_page(request):
        return await errors.handle(request, exc)
    return error_page(request, errors.status_for(exc), str(exc))


def error_page(request: Request, status_code: int, message: str) -> Response:
    return templates(request).TemplateResponse(
        request, "error.html", {"status": status_code, "message": message}, status_code=status_code
    )


def install(app: FastAPI) -> None:
    app.state.hasher = PasswordHasher()
    app.state.admin_templates = Jinja2Templates(directory=TEMPLATES)
    app.mount("/admin/static", StaticFiles(directory=STATIC), name="admin-static")
    app.add_exception_handler(LoginRequired, to_login)
    app.add_exception_handler(StarletteHTTPException, admin_http_error)
    app.add_exception_handler(SwitchboardError, admin_domain_error)
    for module in (login, workspace_pages, data_pages, access_pages, insight_pages):
        app.include_router(module.router)
