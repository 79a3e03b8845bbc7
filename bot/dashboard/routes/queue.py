"""``/incidents``: the incident queue (filters, paging), its bulk verdict form and the CSV/JSON export."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from ...core.models import Incident, IncidentStatus, Stance
from ...core.ports import IncidentFilter
from ...storage.dashboard import server_key
from ..auth import Access
from ..formatting import csv_safe, incident_dict, parse_day, start_of
from ..verdicts import is_stale, parse_note, parse_verdict, resolve_one
from ..web import VERDICTS, DashboardError, access_of, form_of, login_required, redirect, state_of

PAGE_SIZES = (25, 50, 100, 200)
EXPORT_MAX = 100_000
BULK_MAX = 500
STALE_SHOWN = 50  # incidents listed after a bulk verdict as judged meanwhile by someone else


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


def _visible(access: Access, incidents: list[Incident]) -> list[Incident]:
    return [i for i in incidents if access.can_see(i.platform, i.server_id)]


@login_required()
async def queue(request: web.Request) -> web.StreamResponse:
    d = state_of(request)
    access = access_of(request)
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
    stale = []  # incidents a colleague judged while this moderator's queue page was open
    for raw in request.query.get("stale", "").split(".")[:STALE_SHOWN]:
        inc = await d.incidents.get_incident(int(raw)) if raw.isdigit() else None
        if inc is not None and access.can_see(inc.platform, inc.server_id):
            stale.append(inc)
    choices = await d.server_choices(access)
    platforms = sorted({p for p, _ in choices} | set(access.platforms() or ()))
    return d.render(
        request, "queue.html", nav="incidents", q=q, rows=rows, total=total, page=page, pages=pages,
        servers=[server_key(p, s) for p, s in choices], platforms=platforms,
        tps=d.registry.talking_points(), title_of=d.tp_title, notice=notice, stale=stale, back=q.qs(page=page),
        first=(page - 1) * q.per + 1 if rows else 0, last=(page - 1) * q.per + len(rows),
    )


@login_required()
async def bulk_resolve(request: web.Request) -> web.StreamResponse:
    d = state_of(request)
    access = access_of(request)
    form = form_of(request)
    status = parse_verdict(form.get("verdict"))
    note = parse_note(form.get("note"))
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
    stale: list[int] = []  # a colleague's verdict came first: left as it is
    for incident_id in dict.fromkeys(ids):
        async with d.verdict_lock:
            inc = await d.incidents.get_incident(incident_id)
            if inc is None or not access.can_see(inc.platform, inc.server_id):
                skipped += 1
                continue
            if is_stale(inc, form.get(f"version-{incident_id}"), access.username):
                stale.append(incident_id)
                continue
            await resolve_one(d, access, inc, status, note, bulk=True)
        done += 1
    sep = "&" if back else ""
    result = {"resolved": done, "verdict": status.value, "skipped": skipped}
    if stale:
        result["stale"] = ".".join(map(str, stale[:STALE_SHOWN]))
    raise redirect(f"/incidents?{back}{sep}" + urlencode(result))


EXPORT_COLUMNS = ("id", "created_at", "platform", "server_id", "channel_id", "message_id", "message_link",
                  "author_id", "talking_point_id", "stance", "score", "match_score", "action", "status", "reviewer",
                  "note", "resolved_at", "group_id", "hit_count", "content")


@login_required()
async def export(request: web.Request) -> web.StreamResponse:
    d = state_of(request)
    access = access_of(request)
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


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/incidents", queue)
    r.add_post("/incidents/bulk", bulk_resolve)
    r.add_get(r"/incidents/export.{fmt:csv|json}", export)
