"""What every dashboard page shares: the :class:`Dashboard` state (config, sessions, storage, templates), the
request keys the middlewares fill, ``login_required`` and the small request helpers."""

from __future__ import annotations

import asyncio
import functools
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping
from urllib.parse import urlencode

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ..config import Config
from ..core.cards import shown_date, sources_label
from ..core.models import Incident, IncidentStatus, Stance
from ..core.sanitize import safe_snippet
from ..storage.dashboard import SqliteDashboardRepository
from . import charts
from .auth import Access, LoginRateLimiter, Session, SessionCodec, check_dashboard_config, dummy_hash
from .formatting import fmt_dt, fmt_pct, safe_url, utcnow, verdict_version

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

COOKIE = "contextbot_session"
SESSION_TTL = 8 * 3600  # a logged-in session lasts 8 hours
ANON_TTL = 3600  # the login page's pre-session (it carries the login form's CSRF token)
NOTE_MAX = 2000
VERDICTS = (IncidentStatus.CONFIRMED, IncidentStatus.FALSE_POSITIVE, IncidentStatus.DISMISSED)

_RequestKey = getattr(web, "RequestKey", None)  # aiohttp >= 3.12; plain strings before


def _request_key(name: str) -> Any:
    return _RequestKey(name, object) if _RequestKey is not None else name


SESSION_KEY = _request_key("contextbot_session")  # Session | None
ACCESS_KEY = _request_key("contextbot_access")  # Access | None (None: not logged in)
FORM_KEY = _request_key("contextbot_form")  # the POST form, after the CSRF check


class DashboardError(Exception):
    """Rendered as an error page with ``status`` (404 for anything outside the moderator's servers)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ------------------------------------------------------------------------------------------ state


class Dashboard:
    """Everything the handlers share: the bot's App, config, sessions, rate limiter, storage and templates."""

    def __init__(self, bot_app, cfg: Config, *, limiter: LoginRateLimiter | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.accesses: dict[str, Access] = check_dashboard_config(cfg)
        self.hashes = {m.username: m.password_hash for m in cfg.dashboard.moderators}
        self.bot = bot_app
        self.cfg = cfg
        self.clock = clock
        self.codec = SessionCodec(cfg.dashboard.secret or "")
        self.limiter = limiter or LoginRateLimiter()
        self.store = SqliteDashboardRepository(bot_app.db)
        self.registry = bot_app.registry
        self.detector = bot_app.detector
        self.incidents = bot_app.service.incidents
        self.jinja = Environment(
            loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
            trim_blocks=True, lstrip_blocks=True,
        )
        self.jinja.filters.update(dt=fmt_dt, pct=fmt_pct, snippet=safe_snippet, safe_url=safe_url,
                                  shown_date=shown_date, sources_label=sources_label,
                                  version=verdict_version)
        self.jinja.globals.update(
            STATUS_COLORS=charts.STATUS_COLORS, ACTION_COLORS=charts.ACTION_COLORS,
            stances=[s.value for s in Stance], statuses=[s.value for s in IncidentStatus],
            verdicts=[v.value for v in VERDICTS],
        )
        self._dummy = dummy_hash()
        # a verdict's staleness check and its write are one step for the dashboard's requests
        self.verdict_lock = asyncio.Lock()

    # -------------------------------------------------------------- rendering

    def render(self, request: web.Request, template: str, status: int = 200, **ctx: Any) -> web.Response:
        session: Session | None = request.get(SESSION_KEY)
        access: Access | None = request.get(ACCESS_KEY)
        ctx.setdefault("nav", "")
        html = self.jinja.get_template(template).render(
            user=access, csrf=session.csrf if session else "", path=request.path,
            static=lambda name: f"/static/{name}", now=self.clock(), **ctx,
        )
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")

    def tp_title(self, tp_id: str) -> str:
        tp = self.registry.get(tp_id)
        return tp.title if tp else tp_id

    # -------------------------------------------------------------- sessions

    def set_session(self, request: web.Request, response: web.StreamResponse, s: Session) -> None:
        max_age = max(0, int(s.exp - time.time()))
        response.set_cookie(COOKIE, self.codec.encode(s), max_age=max_age, path="/", httponly=True,
                            samesite="Strict", secure=is_https(request))

    def clear_session(self, request: web.Request, response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE, path="/", samesite="Strict", secure=is_https(request), httponly=True)

    # -------------------------------------------------------------- access

    async def visible_incident(self, access: Access, raw_id: str) -> Incident:
        try:
            incident_id = int(raw_id)
        except ValueError:
            raise DashboardError(404, "No such incident.") from None
        inc = await self.incidents.get_incident(incident_id)
        if inc is None or not access.can_see(inc.platform, inc.server_id):
            raise DashboardError(404, "No such incident (or it belongs to a server you do not moderate).")
        return inc

    async def server_choices(self, access: Access) -> list[tuple[str, str]]:
        seen = set(await self.store.known_servers(access.scope))
        seen |= set(access.servers)
        return sorted(seen)


STATE = web.AppKey("contextbot_dashboard", Dashboard)


def state_of(request: web.Request) -> Dashboard:
    return request.app[STATE]


def is_https(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def access_of(request: web.Request) -> Access:
    access = request.get(ACCESS_KEY)
    assert access is not None
    return access


def form_of(request: web.Request) -> Mapping[str, Any]:
    return request.get(FORM_KEY) or {}


def login_required(admin: bool = False) -> Callable:
    def deco(fn: Callable[[web.Request], Awaitable[web.StreamResponse]]):
        @functools.wraps(fn)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            access: Access | None = request.get(ACCESS_KEY)
            if access is None:
                target = "/login"
                if request.method == "GET":  # back to this page after logging in (kept percent-encoded)
                    target += "?" + urlencode({"next": request.rel_url.raw_path_qs})
                raise web.HTTPSeeOther(location=target) if request.method != "GET" else web.HTTPFound(location=target)
            if admin and not access.admin:
                raise DashboardError(403, "Only dashboard admins can do this.")
            return await fn(request)

        return wrapper

    return deco


def redirect(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location=location)

