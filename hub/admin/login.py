"""Sign in (local password, throttled), sign out, and the SSO redirect pair."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from core import accounts, audit
from core.errors import RateLimited
from hub.admin import auth, sso
from hub.admin.render import templates
from hub.deps import ServicesDep

router = APIRouter(prefix="/admin", include_in_schema=False)


def login_page(request: Request, error: str = "", status_code: int = 200) -> HTMLResponse:
    response = HTMLResponse("")
    token = auth.login_csrf(request, response)
    sso_on = bool(request.app.state.services.settings.sso.client_id)
    label = request.app.state.services.settings.sso.label
    page = templates(request).TemplateResponse(
        request,
        "login.html",
        {"csrf": token, "error": error, "sso": sso_on, "sso_label": label},
        status_code=status_code,
    )
    page.raw_headers.extend(h for h in response.raw_headers if h[0] == b"set-cookie")
    return page


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> HTMLResponse:
    return login_page(request)


@router.post("/login")
async def login(
    request: Request,
    services: ServicesDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if not auth.same(csrf, request.cookies.get(auth.LOGIN_CSRF_COOKIE)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="missing or wrong CSRF token")
    try:
        await auth.throttle(request, services, email)
    except RateLimited as exc:
        return login_page(request, str(exc), status.HTTP_429_TOO_MANY_REQUESTS)
    async with services.sessions.begin() as session:
        user = await accounts.authenticate(session, request.app.state.hasher, email, password)
        if user is None:
            audit.append(session, audit.Entry(actor=email.strip().lower()[:320], action="login.failed"))
            return login_page(request, "Wrong email or password.", status.HTTP_401_UNAUTHORIZED)
        token, _ = await accounts.start_session(session, user, auth.session_lifetime(services))
        audit.append(session, audit.Entry(actor=user.email, action="login", detail={"method": "password"}))
    return signed_in_redirect(request, services, token)


def signed_in_redirect(request: Request, services: ServicesDep, token: str) -> Response:
    response = RedirectResponse("/admin", status_code=303)
    max_age = int(auth.session_lifetime(services).total_seconds())
    auth.set_session_cookie(request, response, token, max_age)
    response.delete_cookie(auth.LOGIN_CSRF_COOKIE, path="/admin")
    return response


@router.post("/logout")
async def logout(request: Request, services: ServicesDep, signed: auth.CheckedDep) -> Response:
    token = request.cookies.get(auth.SESSION_COOKIE, "")
    async with services.sessions.begin() as session:
        await accounts.end_session(session, token)
        audit.append(session, audit.Entry(actor=signed.actor(), action="logout"))
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


@router.get("/sso/start")
async def sso_start(request: Request, services: ServicesDep) -> Response:
    return await sso.start(request, services)


@router.post("/sso/callback", response_class=HTMLResponse)
async def sso_callback(request: Request) -> HTMLResponse:
    """The authority form-posts its reply here (cross-site, so SameSite cookies are absent): relay it to
    ``finish`` as a same-site POST, where the flow cookie binds it to the browser that started it."""
    reply = await sso.reply_of(request)
    return templates(request).TemplateResponse(request, "sso_relay.html", {"reply": reply})


@router.post("/sso/finish")
async def sso_finish(request: Request, services: ServicesDep) -> Response:
    try:
        user_token = await sso.finish(request, services)
    except sso.SSOFailed as exc:
        return login_page(request, f"Single sign-on failed: {exc}", status.HTTP_401_UNAUTHORIZED)
    response = signed_in_redirect(request, services, user_token)
    response.delete_cookie(sso.FLOW_COOKIE, path="/admin/sso")
    return response
