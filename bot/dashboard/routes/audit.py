"""``/audit``: the admins' log of who did what in the dashboard."""

from __future__ import annotations

from aiohttp import web

from ..web import access_of, login_required, state_of


@login_required(admin=True)
async def audit(request: web.Request) -> web.StreamResponse:
    d = state_of(request)
    access = access_of(request)
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page = 1
    per = 100
    rows = await d.store.list_audit(access.scope, actor=access.username, limit=per + 1, offset=(page - 1) * per)
    return d.render(request, "audit.html", nav="audit", rows=rows[:per], more=len(rows) > per, page=page)


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/audit", audit)
