"""The moderators' web dashboard: aiohttp handlers, middlewares and server-rendered Jinja2 pages.

Security model (see docs/dashboard.md):

* Login with username + password (scrypt hashes from the config); failed logins are rate-limited per username
  and per client address.
* Sessions live in a signed (HMAC-SHA256), http-only, ``SameSite=Strict`` cookie with an expiry; logging in
  issues a fresh session id and CSRF token; logging out revokes the session id.
* Every POST carries the session's CSRF token (checked with ``hmac.compare_digest``), otherwise 403.
* A moderator sees only the servers listed for them (``"platform:server_id"``; ``"*"`` = all): enforced in the
  queries (exact (platform, server) scopes) and again on every incident endpoint (404).
* Templates autoescape everything; chat content is never marked safe. Security headers on every response.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping, TextIO
from urllib.parse import parse_qsl, urlencode

import yaml
from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ..config import Config
from ..core.cards import render_card, shown_date, sources_label
from ..core.models import Incident, IncidentStatus, Stance, TalkingPoint
from ..core.packs import rating_of
from ..core.ports import IncidentFilter
from ..core.sanitize import safe_snippet
from ..storage.dashboard import PointStats, SqliteDashboardRepository, server_key
from . import charts
from .auth import (
    Access,
    LoginRateLimiter,
    Session,
    SessionCodec,
    check_dashboard_config,
    csrf_ok,
    dummy_hash,
    parse_server_entry,
    verify_password,
)
from .learning import clear_point_policy, set_point_policy

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

COOKIE = "contextbot_session"
SESSION_TTL = 8 * 3600  # a logged-in session lasts 8 hours
ANON_TTL = 3600  # the login page's pre-session (it carries the login form's CSRF token)
PAGE_SIZES = (25, 50, 100, 200)
EXPORT_MAX = 100_000
BULK_MAX = 500
NOTE_MAX = 2000
VERDICTS = (IncidentStatus.CONFIRMED, IncidentStatus.FALSE_POSITIVE, IncidentStatus.DISMISSED)

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


# ------------------------------------------------------------------------------------------ helpers


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def fmt_dt(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def fmt_pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def safe_url(url: str | None) -> str | None:
    """Only http(s) links become hrefs (a stored ``javascript:`` link stays text)."""
    if url and url.strip().lower().startswith(("https://", "http://")):
        return url.strip()
    return None


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def csv_safe(value: Any) -> Any:
    """Spreadsheet formula-injection guard: text cells starting with = + - @ (or tab/CR) get a leading '."""
    if isinstance(value, str) and value and (value[0] in _FORMULA_START or value.lstrip()[:1] in _FORMULA_START):
        return "'" + value
    return value


def parse_day(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def explanation_of(incident: Incident) -> dict[str, Any]:
    try:
        data = json.loads(incident.explanation_json or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def incident_dict(i: Incident, *, with_explanation: bool = False) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": i.id, "created_at": i.created_at.isoformat(), "platform": i.platform, "server_id": i.server_id,
        "channel_id": i.channel_id, "message_id": i.message_id, "message_link": i.message_link,
        "author_id": i.author_id, "talking_point_id": i.talking_point_id, "stance": i.stance.value,
        "score": i.score, "match_score": i.match_score, "action": i.action.value, "status": i.status.value,
        "reviewer": i.reviewer, "note": i.note, "resolved_at": i.resolved_at.isoformat() if i.resolved_at else None,
        "group_id": i.group_id, "hit_count": i.hit_count, "content": i.content,
    }
    if with_explanation:
        d["explanation"] = explanation_of(i)
    return d


# ------------------------------------------------------------------------------------------ queue query


@dataclass
class QueueQuery:
    """The incident queue's filters, parsed from (and turned back into) a query string."""

    platform: str = ""
    server: str = ""  # "platform:server_id"
    channel: str = ""
    tp: str = ""
    stance: str = ""
    status: str = ""
    since: str = ""  # YYYY-MM-DD (inclusive)
    until: str = ""  # YYYY-MM-DD (inclusive)
    sort: str = "newest"
    page: int = 1
    per: int = 50
    errors: list[str] = field(default_factory=list)

    KEYS = ("platform", "server", "channel", "tp", "stance", "status", "since", "until", "sort", "page", "per")

    @classmethod
    def parse(cls, q: Mapping[str, str], known_tps: Callable[[str], bool]) -> "QueueQuery":
        out = cls()
        get = lambda k: (q.get(k) or "").strip()[:200]  # noqa: E731
        out.platform = get("platform")
        out.server = get("server")
        out.channel = get("channel")
        if out.server and ":" not in out.server:
            out.errors.append("server: expected platform:server_id")
            out.server = ""
        tp = get("tp")
        if tp and not known_tps(tp):
            out.errors.append(f"unknown talking point {tp!r}")
        else:
            out.tp = tp
        stance = get("stance")
        if stance and stance not in {s.value for s in Stance}:
            out.errors.append(f"unknown stance {stance!r}")
        else:
            out.stance = stance
        status = get("status")
        if status and status not in {s.value for s in IncidentStatus}:
            out.errors.append(f"unknown status {status!r}")
        else:
            out.status = status
        for key in ("since", "until"):
            v = get(key)
            if v and parse_day(v) is None:
                out.errors.append(f"{key}: expected a date YYYY-MM-DD")
            elif v:
                setattr(out, key, v)
        sort = get("sort") or "newest"
        out.sort = sort if sort in ("newest", "oldest", "score") else "newest"
        try:
            out.page = max(1, min(100_000, int(get("page") or 1)))
        except ValueError:
            out.page = 1
        try:
            per = int(get("per") or 50)
        except ValueError:
            per = 50
        out.per = per if per in PAGE_SIZES else 50
        return out

    def params(self, **over: Any) -> dict[str, str]:
        vals = {k: getattr(self, k) for k in self.KEYS}
        vals.update(over)
        defaults = {"sort": "newest", "page": 1, "per": 50}
        return {k: str(v) for k, v in vals.items() if v not in ("", None) and defaults.get(k) != v}

    def qs(self, **over: Any) -> str:
        return urlencode(self.params(**over))

    @property
    def active(self) -> bool:
        return any(getattr(self, k) for k in ("platform", "server", "channel", "tp", "stance", "status", "since",
                                              "until"))

    def to_filter(self, access: Access) -> IncidentFilter:
        platform = self.platform or None
        server_id: str | None = None
        blocked = False
        if self.server:
            p, _, s = self.server.partition(":")
            if platform and p != platform:
                blocked = True
            platform, server_id = p, s
            if not access.can_see(p, s):
                blocked = True
        scope = () if blocked else access.scope
        since = parse_day(self.since) if self.since else None
        until = parse_day(self.until) if self.until else None
        return IncidentFilter(
            platform=platform, server_id=server_id, scope=scope, channel_id=self.channel or None,
            talking_point_id=self.tp or None, stance=Stance(self.stance) if self.stance else None,
            status=IncidentStatus(self.status) if self.status else None,
            since=start_of(since) if since else None, until=start_of(until + timedelta(days=1)) if until else None,
            order=self.sort,
        )


def _clean_back(raw: str) -> str:
    """A queue query string posted back by the bulk form, reduced to the known keys."""
    pairs = [(k, v) for k, v in parse_qsl(raw or "", keep_blank_values=False) if k in QueueQuery.KEYS]
    return urlencode(pairs[:40])


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
                                  shown_date=shown_date, sources_label=sources_label)
        self.jinja.globals.update(
            STATUS_COLORS=charts.STATUS_COLORS, ACTION_COLORS=charts.ACTION_COLORS,
            stances=[s.value for s in Stance], statuses=[s.value for s in IncidentStatus],
            verdicts=[v.value for v in VERDICTS],
        )
        self._dummy = dummy_hash()

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
                            samesite="Strict", secure=_is_https(request))

    def clear_session(self, request: web.Request, response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE, path="/", samesite="Strict", secure=_is_https(request), httponly=True)

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


def _state(request: web.Request) -> Dashboard:
    return request.app[STATE]


def _is_https(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def _access(request: web.Request) -> Access:
    access = request.get(ACCESS_KEY)
    assert access is not None
    return access


def _form(request: web.Request) -> Mapping[str, Any]:
    return request.get(FORM_KEY) or {}


def login_required(admin: bool = False) -> Callable:
    def deco(fn: Callable[[web.Request], Awaitable[web.StreamResponse]]):
        @functools.wraps(fn)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            access: Access | None = request.get(ACCESS_KEY)
            if access is None:
                target = "/login?" + urlencode({"next": request.path_qs}) if request.method == "GET" else "/login"
                raise web.HTTPSeeOther(location=target) if request.method != "GET" else web.HTTPFound(location=target)
            if admin and not access.admin:
                raise DashboardError(403, "Only dashboard admins can do this.")
            return await fn(request)

        return wrapper

    return deco


def _redirect(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location=location)


# ------------------------------------------------------------------------------------------ middlewares


@web.middleware
async def error_middleware(request: web.Request, handler):
    d = _state(request)
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
    d = _state(request)
    session = d.codec.decode(request.cookies.get(COOKIE))
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


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for k, v in SECURITY_HEADERS.items():
        response.headers[k] = v
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"


# ------------------------------------------------------------------------------------------ auth pages


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value and "\n" not in value:
        return value[:2000]
    return "/overview"


async def login_page(request: web.Request) -> web.StreamResponse:
    d = _state(request)
    if request.get(ACCESS_KEY) is not None:
        raise web.HTTPFound(location="/overview")
    session = request.get(SESSION_KEY)
    fresh = session is None
    if fresh:
        session = Session.new(ANON_TTL)
        request[SESSION_KEY] = session
    resp = d.render(request, "login.html", next=_safe_next(request.query.get("next")), error="", username="")
    if fresh:
        d.set_session(request, resp, session)
    return resp


async def login_submit(request: web.Request) -> web.StreamResponse:
    d = _state(request)
    form = _form(request)
    username = str(form.get("username") or "").strip()[:100]
    password = str(form.get("password") or "")[:1000]
    nxt = _safe_next(str(form.get("next") or ""))
    ip = request.remote or ""
    wait = d.limiter.retry_after(username, ip)
    if wait is not None:
        minutes = max(1, int(wait // 60 + (1 if wait % 60 else 0)))
        # not audited (an attacker could grow the table at will); the failures that led here are audited
        log.warning("dashboard: login for %r from %s refused by the rate limit", username, ip)
        return d.render(request, "login.html", status=429, next=nxt, username=username,
                        error=f"Too many failed logins for this username or from your address. "
                              f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.")
    encoded = d.hashes.get(username)
    ok = await asyncio.to_thread(verify_password, password, encoded or d._dummy)
    if not ok or encoded is None or username not in d.accesses:
        d.limiter.failure(username, ip)
        await d.store.record_audit(username or "?", "login_failed", detail={"ip": ip})
        return d.render(request, "login.html", status=401, next=nxt, username=username,
                        error="Unknown username or wrong password.")
    d.limiter.success(username)
    old = request.get(SESSION_KEY)
    if old is not None:
        d.codec.revoke(old)
    session = d.codec.with_user(username, SESSION_TTL)
    await d.store.record_audit(username, "login", detail={"ip": ip})
    resp = web.Response(status=303, headers={"Location": nxt})
    d.set_session(request, resp, session)
    return resp


@login_required()
async def logout(request: web.Request) -> web.StreamResponse:
    d = _state(request)
    session = request.get(SESSION_KEY)
    if session is not None:
        d.codec.revoke(session)
    await d.store.record_audit(_access(request).username, "logout")
    resp = web.Response(status=303, headers={"Location": "/login"})
    d.clear_session(request, resp)
    return resp


async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(location="/overview" if request.get(ACCESS_KEY) else "/login")


# ------------------------------------------------------------------------------------------ overview


@login_required()
async def overview(request: web.Request) -> web.StreamResponse:
    d = _state(request)
    access = _access(request)
    try:
        days = int(request.query.get("days", "30"))
    except ValueError:
        days = 30
    days = days if days in (7, 30, 90) else 30
    today = d.clock().astimezone(timezone.utc).date()
    first = today - timedelta(days=days - 1)
    since = start_of(first)
    scope = access.scope
    totals = await d.store.totals(scope, since)
    rows = await d.store.daily_counts(scope, since)
    per_point = await d.store.point_stats(scope, since)
    cards = await d.store.card_stats(scope, since)
    posted = sum(c["cards"] for c in cards.values())
    helpful = sum(c["helpful"] for c in cards.values())
    not_relevant = sum(c["not_relevant"] for c in cards.values())
    names = {tp.id: tp.id for tp in d.registry.talking_points()}
    daily = charts.stacked_daily(charts.day_range(first, today), rows, names,
                                 title=f"Incidents per day, last {days} days", width=1060)
    none_count = max(0, totals.total - totals.reply - totals.review)
    actions = charts.hbars([("reply", totals.reply, charts.ACTION_COLORS["reply"]),
                            ("review", totals.review, charts.ACTION_COLORS["review"]),
                            ("none", none_count, charts.ACTION_COLORS["none"])], title="Detector decision")
    verdicts = charts.hbars([(s.replace("_", " "), getattr(totals, s), charts.STATUS_COLORS[s])
                             for s in ("open", "confirmed", "false_positive", "dismissed")], title="Verdicts")
    feedback = charts.hbars([("helpful", helpful, charts.FEEDBACK_COLORS["helpful"]),
                             ("not relevant", not_relevant, charts.FEEDBACK_COLORS["not relevant"])],
                            title="Card feedback")
    top = sorted(per_point.values(), key=lambda s: (-s.total, s.talking_point_id))[:10]
    return d.render(request, "overview.html", nav="overview", days=days, totals=totals, posted=posted,
                    shadow=await d.store.shadow_replies(scope, since), daily=daily, actions=actions,
                    verdicts=verdicts, feedback=feedback, top=top, title_of=d.tp_title, since=first, until=today)


# ------------------------------------------------------------------------------------------ queue


def _visible(access: Access, incidents: list[Incident]) -> list[Incident]:
    return [i for i in incidents if access.can_see(i.platform, i.server_id)]


@login_required()
async def queue(request: web.Request) -> web.StreamResponse:
    d = _state(request)
    access = _access(request)
    q = QueueQuery.parse(request.query, lambda tp: tp in d.registry)
    flt = q.to_filter(access)
    total = await d.incidents.count_incidents(flt)
    pages = max(1, -(-total // q.per))
    page = min(q.page, pages)
    rows = _visible(access, await d.incidents.list_incidents(flt, limit=q.per, offset=(page - 1) * q.per))
    resolved = request.query.get("resolved", "")
    verdict = request.query.get("verdict", "")
    notice = ""
    if resolved.isdigit() and verdict in {v.value for v in VERDICTS}:
        notice = f"Marked {resolved} incident{'s' if resolved != '1' else ''} as {verdict.replace('_', ' ')}."
        skipped = request.query.get("skipped", "")
        if skipped.isdigit() and skipped != "0":
            notice += f" {skipped} could not be changed (not found or not yours)."
    choices = await d.server_choices(access)
    platforms = sorted({p for p, _ in choices} | set(access.platforms() or ()))
    return d.render(
        request, "queue.html", nav="incidents", q=q, rows=rows, total=total, page=page, pages=pages,
        servers=[server_key(p, s) for p, s in choices], platforms=platforms,
        tps=d.registry.talking_points(), title_of=d.tp_title, notice=notice, back=q.qs(page=page),
        first=(page - 1) * q.per + 1 if rows else 0, last=(page - 1) * q.per + len(rows),
    )


async def _resolve_one(d: Dashboard, access: Access, inc: Incident, status: IncidentStatus, note: str | None,
                       bulk: bool = False) -> None:
    # the service records the verdict and its learner (wired by the composition root) teaches the detector
    updated, result = await d.bot.service.resolve_and_learn(inc.id, status, access.username, note)
    detail: dict[str, Any] = {"status": status.value, "previous": inc.status.value, "note": note}
    if bulk:
        detail["bulk"] = True
    if result is not None:
        if result.exemplar is not None:
            detail["exemplar_id"] = result.exemplar.id
            detail["exemplar"] = "positive" if result.exemplar.positive else "negative"
        if result.retired:
            detail["retired_exemplars"] = [e.id for e in result.retired]
        if result.notes:
            detail["notes"] = list(result.notes)
    await d.store.record_audit(access.username, "resolve", incident_id=inc.id, platform=inc.platform,
                               server_id=inc.server_id, detail=detail)


def _verdict(raw: Any) -> IncidentStatus:
    try:
        status = IncidentStatus(str(raw or ""))
    except ValueError:
        raise DashboardError(400, "Choose a verdict: confirmed, false positive or dismissed.") from None
    if status not in VERDICTS:
        raise DashboardError(400, "Choose a verdict: confirmed, false positive or dismissed.")
    return status


def _note(raw: Any) -> str | None:
    note = str(raw or "").strip()
    return note[:NOTE_MAX] or None


@login_required()
async def bulk_resolve(request: web.Request) -> web.StreamResponse:
    d = _state(request)
    access = _access(request)
    form = _form(request)
    status = _verdict(form.get("verdict"))
    note = _note(form.get("note"))
    raw_ids = form.getall("ids", []) if hasattr(form, "getall") else []  # type: ignore[union-attr]
    ids: list[int] = []
    for raw in raw_ids[:BULK_MAX]:
        try:
            ids.append(int(str(raw)))
        except ValueError:
            continue
    back = _clean_back(str(form.get("back") or ""))
    if not ids:
        raise DashboardError(400, "Select at least one incident (the checkboxes in the first column).")
    done = skipped = 0
    for incident_id in dict.fromkeys(ids):
        inc = await d.incidents.get_incident(incident_id)
        if inc is None or not access.can_see(inc.platform, inc.server_id):
            skipped += 1
            continue
        await _resolve_one(d, access, inc, status, note, bulk=True)
        done += 1
    sep = "&" if back else ""
    raise _redirect(f"/incidents?{back}{sep}" + urlencode({"resolved": done, "verdict": status.value,
                                                             "skipped": skipped}))


EXPORT_COLUMNS = ("id", "created_at", "platform", "server_id", "channel_id", "message_id", "message_link",
                  "author_id", "talking_point_id", "stance", "score", "match_score", "action", "status", "reviewer",
                  "note", "resolved_at", "group_id", "hit_count", "content")


@login_required()
async def export(request: web.Request) -> web.StreamResponse:
    d = _state(request)
    access = _access(request)
    fmt = request.match_info["fmt"]
    q = QueueQuery.parse(request.query, lambda tp: tp in d.registry)
    rows = _visible(access, await d.incidents.list_incidents(q.to_filter(access), limit=EXPORT_MAX))
    stamp = d.clock().strftime("%Y%m%d-%H%M%S")
    await d.store.record_audit(access.username, "export", detail={"format": fmt, "rows": len(rows),
                                                                  "filter": q.params(page="")})
    if fmt == "json":
        body = json.dumps([incident_dict(i, with_explanation=True) for i in rows], ensure_ascii=False, indent=1)
        resp = web.Response(text=body + "\n", content_type="application/json", charset="utf-8")
    else:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(EXPORT_COLUMNS)
        for i in rows:
            d_ = incident_dict(i)
            w.writerow([csv_safe(d_[c]) if d_[c] is not None else "" for c in EXPORT_COLUMNS])
        resp = web.Response(text=buf.getvalue(), content_type="text/csv", charset="utf-8")
    resp.headers["Content-Disposition"] = f'attachment; filename="contextbot-incidents-{stamp}.{fmt}"'
    return resp


# ------------------------------------------------------------------------------------------ incident


@login_required()
async def incident_page(request: web.Request) -> web.StreamResponse:
    d = _state(request)
    access = _access(request)
    inc = await d.visible_incident(access, request.match_info["id"])
    expl = explanation_of(inc)
    tp = d.registry.get(inc.talking_point_id)
    post = await d.store.card_post_for_incident(inc.id)
    lang = (post or {}).get("lang") or expl.get("language") or "en"
    card = render_card(tp, lang) if tp is not None else None
    prior_rows = await d.incidents.list_incidents(
        IncidentFilter(platform=inc.platform, server_id=inc.server_id, author_id=inc.author_id,
                       talking_point_id=inc.talking_point_id, until=inc.created_at + timedelta(microseconds=1)),
        limit=26)
    prior = [i for i in prior_rows if i.id != inc.id and (i.created_at < inc.created_at or i.id < inc.id)][:25]
    exemplars = await d.store.list_exemplars(None, incident_id=inc.id, include_retired=True)
    audit = await d.store.list_audit(None, incident_id=inc.id, limit=50)
    probs = expl.get("stance_probs") if isinstance(expl.get("stance_probs"), dict) else {}
    try:
        prob_chart = charts.prob_bars({str(k): float(v) for k, v in probs.items()})
    except (TypeError, ValueError):
        prob_chart = charts.prob_bars({})
    candidates = [c for c in expl.get("candidates") or [] if isinstance(c, list) and len(c) == 2]
    saved = request.query.get("saved", "")
    return d.render(
        request, "incident.html", nav="incidents", inc=inc, tp=tp, expl=expl, card=card, post=post,
        prior=prior, exemplars=exemplars, audit=audit, prob_chart=prob_chart, candidates=candidates,
        link=safe_url(inc.message_link), title_of=d.tp_title,
        saved=saved.replace("_", " ") if saved in {v.value for v in VERDICTS} else "",
        policy=d.detector.point_policy(inc.server_id or None, inc.talking_point_id),
    )


@login_required()
async def incident_resolve(request: web.Request) -> web.StreamResponse:
    d = _state(request)
    access = _access(request)
    inc = await d.visible_incident(access, request.match_info["id"])
    form = _form(request)
    status = _verdict(form.get("verdict"))
    await _resolve_one(d, access, inc, status, _note(form.get("note")))
    raise _redirect(f"/incidents/{inc.id}?saved={status.value}")


# ------------------------------------------------------------------------------------------ talking points


def _policy_text(policy) -> str:
    if policy is None:
        return "default"
    parts = []
    if policy.review_only:
        parts.append("review only")
    if policy.reply_threshold is not None:
        parts.append(f"reply ≥ {policy.reply_threshold:.2f}")
    return ", ".join(parts) or "default"


@login_required()
async def points(request: web.Request) -> web.StreamResponse:
    d = _state(request)
    access = _access(request)
    stats = await d.store.point_stats(access.scope)
    cards = await d.store.card_stats(access.scope)
    packs = []
    for pack in d.registry.packs:
        rows = []
        for tp in pack.talking_points:
            rows.append({"tp": tp, "stats": stats.get(tp.id, PointStats(tp.id)),
                         "cards": cards.get(tp.id, {"cards": 0, "helpful": 0, "not_relevant": 0}),
                         "policy": _policy_text(d.detector.point_policy(None, tp.id))})
        packs.append({"pack": pack, "rows": rows})
    return d.render(request, "points.html", nav="points", packs=packs,
                    default_reply=d.detector.thresholds.reply)


async def _point_page(request: web.Request, tp: TalkingPoint, *, status: int = 200, error: str = "",
                      notice: str = "") -> web.Response:
    d = _state(request)
    access = _access(request)
    scope = access.scope
    stats = (await d.store.point_stats(scope)).get(tp.id, PointStats(tp.id))
    per_server = await d.store.point_server_stats(tp.id, scope)
    cards = (await d.store.card_stats(scope)).get(tp.id, {"cards": 0, "helpful": 0, "not_relevant": 0})
    policies = [p for p in await d.store.list_point_policies(tp.id)
                if p.is_global or access.can_see(p.platform, p.server_id)]
    learned = await d.store.list_exemplars(scope, talking_point_id=tp.id, limit=50)
    exemplar_counts: dict[str, int] = {}
    for ex in tp.exemplars:
        exemplar_counts[ex.stance.value] = exemplar_counts.get(ex.stance.value, 0) + 1
    rendered = [render_card(tp, lang) for lang in tp.cards]
    scopes = [server_key(p, s) for p, s in await d.server_choices(access)] + (["*"] if access.all_servers else [])
    pack = d.registry.pack_of(tp.id)
    return d.render(
        request, "point.html", status=status, nav="points", tp=tp, pack=pack, rating=rating_of(tp), stats=stats,
        per_server=per_server, cards=cards, policies=policies, learned=learned, exemplar_counts=exemplar_counts,
        rendered=rendered, scopes=scopes, error=error, notice=notice, thresholds=d.detector.thresholds,
        global_policy=_policy_text(d.detector.point_policy(None, tp.id)),
    )


def _tp_or_404(d: Dashboard, tp_id: str) -> TalkingPoint:
    tp = d.registry.get(tp_id)
    if tp is None:
        raise DashboardError(404, "No such talking point.")
    return tp


@login_required()
async def point_page(request: web.Request) -> web.StreamResponse:
    d = _state(request)
    tp = _tp_or_404(d, request.match_info["tp"])
    notice = {"saved": "Policy saved and applied.", "cleared": "Policy cleared: defaults apply."}.get(
        request.query.get("policy", ""), "")
    return await _point_page(request, tp, notice=notice)


@login_required(admin=True)
async def point_policy(request: web.Request) -> web.StreamResponse:
    d = _state(request)
    access = _access(request)
    tp = _tp_or_404(d, request.match_info["tp"])
    form = _form(request)
    scope_raw = str(form.get("scope") or "").strip()
    try:
        parsed = parse_server_entry(scope_raw) if scope_raw else None
    except ValueError:
        return await _point_page(request, tp, status=400, error="Choose where the policy applies.")
    if not scope_raw:
        return await _point_page(request, tp, status=400, error="Choose where the policy applies.")
    if parsed is None:
        if not access.all_servers:
            raise DashboardError(403, "Only admins with access to every server (\"*\") can set a global policy.")
        platform, server_id = "", ""
    else:
        platform, server_id = parsed
        if not access.can_see(platform, server_id):
            raise DashboardError(404, "No such server (or it is not one you moderate).")
    where = "every server" if parsed is None else server_key(platform, server_id)
    if str(form.get("op") or "save") == "clear":
        await clear_point_policy(d.store, d.detector, platform=platform, server_id=server_id, talking_point_id=tp.id)
        await d.store.record_audit(access.username, "policy_clear", platform=platform or None,
                                   server_id=server_id or None, detail={"talking_point": tp.id, "scope": where})
        raise _redirect(f"/points/{tp.id}?policy=cleared#policy")
    raw = str(form.get("reply_threshold") or "").strip().replace(",", ".")
    threshold: float | None = None
    lo = d.detector.thresholds.review
    if raw:
        try:
            threshold = float(raw)
        except ValueError:
            return await _point_page(request, tp, status=400, error=f"Reply threshold: {raw!r} is not a number.")
        if not lo <= threshold <= 1.0:
            return await _point_page(request, tp, status=400,
                                     error=f"Reply threshold must be between {lo:.2f} (the review threshold) and 1.")
    review_only = str(form.get("review_only") or "") in ("1", "on", "true")
    if threshold is None and not review_only:
        return await _point_page(request, tp, status=400,
                                 error="Set a reply threshold or tick review only (or use Clear to go back to defaults).")
    await set_point_policy(d.store, d.detector, platform=platform, server_id=server_id, talking_point_id=tp.id,
                           reply_threshold=threshold, review_only=review_only, actor=access.username)
    await d.store.record_audit(access.username, "policy_set", platform=platform or None, server_id=server_id or None,
                               detail={"talking_point": tp.id, "scope": where, "reply_threshold": threshold,
                                       "review_only": review_only})
    raise _redirect(f"/points/{tp.id}?policy=saved#policy")


# ------------------------------------------------------------------------------------------ exemplars


@login_required()
async def exemplars(request: web.Request) -> web.StreamResponse:
    d = _state(request)
    access = _access(request)
    tp = request.query.get("tp", "")
    tp = tp if tp in d.registry else ""
    promoted = {"1": True, "0": False}.get(request.query.get("promoted", ""))
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page = 1
    per = 50
    rows = await d.store.list_exemplars(access.scope, talking_point_id=tp or None, promoted=promoted,
                                        limit=per + 1, offset=(page - 1) * per)
    return d.render(request, "exemplars.html", nav="exemplars", rows=rows[:per], more=len(rows) > per, page=page,
                    tp=tp, promoted={True: "1", False: "0"}.get(promoted, ""), tps=d.registry.talking_points(),
                    title_of=d.tp_title, notice={"1": "Marked for the pack.", "0": "Unmarked."}.get(
                        request.query.get("done", ""), ""))


@login_required(admin=True)
async def exemplar_promote(request: web.Request) -> web.StreamResponse:
    d = _state(request)
    access = _access(request)
    try:
        ex_id = int(request.match_info["id"])
    except ValueError:
        raise DashboardError(404, "No such exemplar.") from None
    ex = await d.store.get_exemplar(ex_id)
    if ex is None or not access.can_see(ex.platform, ex.server_id):
        raise DashboardError(404, "No such exemplar (or it belongs to a server you do not moderate).")
    form = _form(request)
    promote = str(form.get("promote") or "1") == "1"
    stance = str(form.get("stance") or ("assert" if ex.positive else "other"))
    if stance not in {s.value for s in Stance}:
        raise DashboardError(400, "Unknown stance.")
    await d.store.set_promoted(ex.id, promote, access.username, stance)
    await d.store.record_audit(access.username, "promote" if promote else "unpromote", incident_id=ex.incident_id,
                               platform=ex.platform, server_id=ex.server_id,
                               detail={"exemplar_id": ex.id, "stance": stance if promote else None})
    raise _redirect(f"/exemplars?done={'1' if promote else '0'}")


@login_required(admin=True)
async def promoted_yaml(request: web.Request) -> web.StreamResponse:
    d = _state(request)
    access = _access(request)
    rows = await d.store.promoted_exemplars(access.scope)
    data: dict[str, Any] = {}
    for e in rows:
        stance = e.promoted_stance or ("assert" if e.positive else "other")
        data.setdefault(e.talking_point_id, {"exemplars": {}})["exemplars"].setdefault(stance, []).append(
            {"text": e.text, "lang": e.lang or "en"})
    header = (f"# contextbot: {len(rows)} exemplar(s) promoted by moderators; exported "
              f"{fmt_dt(d.clock())} by {access.username}.\n"
              "# Merge each list into the talking point's `exemplars:` (talking_points/<id>.yaml), check the\n"
              "# stance and language of every line, then run: python -m bot packs validate\n")
    body = yaml.safe_dump(data, allow_unicode=True, sort_keys=True, default_flow_style=False, width=110) if data else "{}\n"
    await d.store.record_audit(access.username, "export_promoted", detail={"rows": len(rows)})
    resp = web.Response(text=header + body, content_type="text/plain", charset="utf-8")
    resp.headers["Content-Disposition"] = 'attachment; filename="promoted-exemplars.yaml"'
    return resp


# ------------------------------------------------------------------------------------------ audit


@login_required(admin=True)
async def audit(request: web.Request) -> web.StreamResponse:
    d = _state(request)
    access = _access(request)
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page = 1
    per = 100
    rows = await d.store.list_audit(access.scope, actor=access.username, limit=per + 1, offset=(page - 1) * per)
    return d.render(request, "audit.html", nav="audit", rows=rows[:per], more=len(rows) > per, page=page)


# ------------------------------------------------------------------------------------------ app


def create_app(bot_app, cfg: Config, *, limiter: LoginRateLimiter | None = None,
               clock: Callable[[], datetime] = utcnow) -> web.Application:
    """The dashboard as an aiohttp application (raises ConfigError for a config it must not serve)."""
    state = Dashboard(bot_app, cfg, limiter=limiter, clock=clock)
    app = web.Application(middlewares=[error_middleware, session_middleware, csrf_middleware],
                          client_max_size=1024 * 1024)
    app[STATE] = state
    app.on_response_prepare.append(_security_headers)
    r = app.router
    r.add_get("/", index)
    r.add_get("/login", login_page)
    r.add_post("/login", login_submit)
    r.add_post("/logout", logout)
    r.add_get("/overview", overview)
    r.add_get("/incidents", queue)
    r.add_post("/incidents/bulk", bulk_resolve)
    r.add_get(r"/incidents/export.{fmt:csv|json}", export)
    r.add_get(r"/incidents/{id:\d+}", incident_page)
    r.add_post(r"/incidents/{id:\d+}/resolve", incident_resolve)
    r.add_get("/points", points)
    r.add_get("/points/{tp}", point_page)
    r.add_post("/points/{tp}/policy", point_policy)
    r.add_get("/exemplars", exemplars)
    r.add_get("/exemplars/promoted.yaml", promoted_yaml)
    r.add_post(r"/exemplars/{id:\d+}/promote", exemplar_promote)
    r.add_get("/audit", audit)
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


__all__ = ["CSP", "Dashboard", "DashboardError", "QueueQuery", "SECURITY_HEADERS", "create_app", "csv_safe",
           "run_dashboard"]
