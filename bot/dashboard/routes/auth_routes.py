"""Logging in and out: ``/``, ``/login``, ``/logout``."""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from datetime import datetime, timezone
from urllib.parse import quote

from aiohttp import web

from ..auth import Session, session_key, verify_password
from ..web import ACCESS_KEY, ANON_TTL, SESSION_KEY, SESSION_TTL, access_of, form_of, login_required, state_of

log = logging.getLogger(__name__)


AFTER_LOGIN = "/overview"
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"  # kept as they are when the target is percent-encoded
_REFUSED = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})  # controls, format, surrogates, unassigned


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path on this site, or ``/overview``.

    Only ``/path?query`` is accepted: not ``//host`` nor ``/\\host`` (both leave the site), and no control, format
    or whitespace character anywhere — browsers drop tabs and newlines from a URL, so ``/<tab>/evil.example``
    would become ``//evil.example``, and the server refuses to write a control character into ``Location``.
    What is left is percent-encoded to plain ASCII."""
    if not value or len(value) > 2000 or not value.startswith("/") or value[1:2] in ("/", "\\"):
        return AFTER_LOGIN
    if "\\" in value or any(ch.isspace() or unicodedata.category(ch) in _REFUSED for ch in value):
        return AFTER_LOGIN
    return quote(value, safe=_URL_SAFE)



async def login_page(request: web.Request) -> web.StreamResponse:
    d = state_of(request)
    if request.get(ACCESS_KEY) is not None:
        raise web.HTTPFound(location="/overview")
    session = request.get(SESSION_KEY)
    fresh = session is None
    if fresh:
        session = Session.new(ANON_TTL)
        request[SESSION_KEY] = session
    resp = d.render(request, "login.html", next=safe_next(request.query.get("next")), error="", username="")
    if fresh:
        d.set_session(request, resp, session)
    return resp


async def login_submit(request: web.Request) -> web.StreamResponse:
    d = state_of(request)
    form = form_of(request)
    username = str(form.get("username") or "").strip()[:100]
    password = str(form.get("password") or "")[:1000]
    nxt = safe_next(str(form.get("next") or ""))
    ip = request.remote or ""
    # an account that has logged in from this address before is held up only by its own failures from here
    trusted = username in d.hashes and await d.store.logged_in_from(username, ip)
    wait = d.limiter.retry_after(username, ip, trusted=trusted)
    if wait is not None:
        minutes = max(1, int(wait // 60 + (1 if wait % 60 else 0)))
        # not audited (an attacker could grow the table at will); the failures that led here are audited
        log.warning("dashboard: login for %r from %s refused by the rate limit", username, ip)
        return d.render(request, "login.html", status=429, next=nxt, username=username,
                        error=f"Too many failed logins. Try again in {minutes} minute{'s' if minutes != 1 else ''}.")
    encoded = d.hashes.get(username)
    ok = await asyncio.to_thread(verify_password, password, encoded or d._dummy)
    if not ok or encoded is None or username not in d.accesses:
        d.limiter.failure(username, ip)
        await d.store.record_audit(username or "?", "login_failed", detail={"ip": ip})
        return d.render(request, "login.html", status=401, next=nxt, username=username,
                        error="Unknown username or wrong password.")
    d.limiter.success(username, ip)
    old = request.get(SESSION_KEY)
    if old is not None and old.user is not None:
        await d.store.revoke_session(session_key(old.sid))
    session = d.codec.with_user(username, SESSION_TTL)
    await d.store.create_session(session_key(session.sid), username, ip,
                                 datetime.fromtimestamp(session.exp, timezone.utc))
    await d.store.record_audit(username, "login", detail={"ip": ip})
    resp = web.Response(status=303, headers={"Location": nxt})
    d.set_session(request, resp, session)
    return resp


@login_required()
async def logout(request: web.Request) -> web.StreamResponse:
    d = state_of(request)
    session = request.get(SESSION_KEY)
    if session is not None:
        await d.store.revoke_session(session_key(session.sid))  # in the database: stays logged out after a restart
    await d.store.record_audit(access_of(request).username, "logout")
    resp = web.Response(status=303, headers={"Location": "/login"})
    d.clear_session(request, resp)
    return resp


async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(location="/overview" if request.get(ACCESS_KEY) else "/login")


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/", index)
    r.add_get("/login", login_page)
    r.add_post("/login", login_submit)
    r.add_post("/logout", logout)
