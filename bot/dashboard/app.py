"""The moderators' web dashboard: the aiohttp application and how it is served.

Security model (see docs/dashboard.md):

* Login with username + password (scrypt hashes from the config); failed logins are throttled per account and
  address, with wider limits that spare accounts at addresses they logged in from before (auth.LoginRateLimiter).
* Sessions live in a signed (HMAC-SHA256), http-only, ``SameSite=Strict`` cookie with an expiry, and a row in
  ``dashboard_sessions``; logging in issues a fresh session id and CSRF token; logging out revokes the row (so it
  holds across a restart).
* Every POST carries the session's CSRF token (checked with ``hmac.compare_digest``), otherwise 403.
* A moderator sees only the servers listed for them (``"platform:server_id"``; ``"*"`` = all): enforced in the
  queries (exact (platform, server) scopes) and again on every incident endpoint (404).
* Templates autoescape everything; chat content is never marked safe. Security headers on every response.

Where things are:

* :mod:`.web` — the shared state (:class:`~.web.Dashboard`), ``login_required`` and request helpers
* :mod:`.middleware` — error pages, session cookie, CSRF check, security headers
* :mod:`.routes` — one module per page (``auth_routes``, ``overview``, ``queue``, ``incident``, ``points``,
  ``exemplars``, ``audit``), each adding its own routes
* :mod:`.verdicts` — recording a verdict (incident page and the queue's bulk form)
* :mod:`.formatting` — dates, percentages, safe links, CSV cells
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from typing import Callable, TextIO

from aiohttp import web

from ..config import Config
from . import routes
from .auth import LoginRateLimiter
from .formatting import utcnow
from .middleware import csrf_middleware, error_middleware, security_headers, session_middleware
from .web import STATE, STATIC, Dashboard


def create_app(bot_app, cfg: Config, *, limiter: LoginRateLimiter | None = None,
               clock: Callable[[], datetime] = utcnow) -> web.Application:
    """The dashboard as an aiohttp application (raises ConfigError for a config it must not serve)."""
    state = Dashboard(bot_app, cfg, limiter=limiter, clock=clock)
    app = web.Application(middlewares=[error_middleware, session_middleware, csrf_middleware],
                          client_max_size=1024 * 1024)
    app[STATE] = state
    app.on_response_prepare.append(security_headers)
    r = app.router
    routes.add_routes(r)
    r.add_static("/static/", STATIC, name="static")
    return app


async def run_dashboard(app, cfg: Config, *, out: TextIO | None = None) -> None:
    """Serve the dashboard for the running bot until cancelled. Also restores learned exemplars and point
    policies into ``app.detector`` (idempotent, so harmless if build_app already did)."""
    from .learning import restore_learning

    web_app = create_app(app, cfg)
    await restore_learning(app.db, app.detector)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, cfg.dashboard.host, cfg.dashboard.port)
        await site.start()
        host = cfg.dashboard.host
        shown = f"[{host}]" if ":" in host else host
        out = out or sys.stdout
        out.write(f"contextbot dashboard: http://{shown}:{cfg.dashboard.port}/ (Ctrl-C to stop)\n")
        if host not in ("127.0.0.1", "localhost", "::1"):
            out.write("  note: listening beyond localhost; put it behind an HTTPS reverse proxy\n")
        out.flush()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


__all__ = ["create_app", "run_dashboard"]
