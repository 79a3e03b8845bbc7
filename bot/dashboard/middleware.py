"""The dashboard's middlewares: error pages, the session cookie, the CSRF check, and security headers."""

from __future__ import annotations

import logging

from aiohttp import web

from .auth import csrf_ok, session_key
from .web import ACCESS_KEY, COOKIE, FORM_KEY, SESSION_KEY, DashboardError, state_of

log = logging.getLogger(__name__)

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}



@web.middleware
async def error_middleware(request: web.Request, handler):
    d = state_of(request)
    try:
        return await handler(request)
    except DashboardError as e:
        return d.render(request, "error.html", status=e.status, code=e.status, message=e.message)
    except web.HTTPException as e:
        if e.status >= 400:
            messages = {404: "Page not found.", 405: "Method not allowed.", 413: "Request too large."}
            return d.render(request, "error.html", status=e.status, code=e.status,
                            message=messages.get(e.status, e.reason))
        raise


@web.middleware
async def session_middleware(request: web.Request, handler):
    d = state_of(request)
    session = d.codec.decode(request.cookies.get(COOKIE))
    if session is not None and session.user is not None:
        if not await d.store.session_active(session_key(session.sid)):
            session = None  # logged out (or never recorded): a valid signature alone does not keep a login alive
    request[SESSION_KEY] = session
    request[ACCESS_KEY] = d.accesses.get(session.user) if session and session.user else None
    return await handler(request)


@web.middleware
async def csrf_middleware(request: web.Request, handler):
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        form = await request.post()
        if not csrf_ok(request.get(SESSION_KEY), form.get("csrf")):  # type: ignore[arg-type]
            log.info("dashboard: refused %s %s without a valid CSRF token", request.method, request.path)
            raise DashboardError(403, "The form's security token is missing or out of date. Reload the page and "
                                      "try again.")
        request[FORM_KEY] = form
    return await handler(request)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for k, v in SECURITY_HEADERS.items():
        response.headers[k] = v
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"

