"""The admin web page at ``/admin``: server-rendered Jinja2, a little plain JavaScript, no build step."""

from __future__ import annotations

from argon2 import PasswordHasher
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from hub.admin import access_pages, data_pages, login, workspace_pages
from hub.admin.auth import LoginRequired
from hub.admin.render import STATIC, TEMPLATES


async def to_login(request: Request, exc: Exception) -> Response:
    """Pages go to the login form; scripts (fetch, SSE) and POSTs get a plain 401."""
    if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
        return RedirectResponse("/admin/login", status_code=303)
    return JSONResponse({"detail": "sign in first"}, status_code=401)


def install(app: FastAPI) -> None:
    app.state.hasher = PasswordHasher()
    app.state.admin_templates = Jinja2Templates(directory=TEMPLATES)
    app.mount("/admin/static", StaticFiles(directory=STATIC), name="admin-static")
    app.add_exception_handler(LoginRequired, to_login)
    for module in (login, workspace_pages, data_pages, access_pages):
        app.include_router(module.router)
