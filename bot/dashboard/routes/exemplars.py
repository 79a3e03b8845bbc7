"""``/exemplars``: what the bot learned from verdicts, promoting exemplars to the pack and their YAML export."""

from __future__ import annotations

from typing import Any

import yaml
from aiohttp import web

from ...core.models import Stance
from ..formatting import fmt_dt
from ..web import DashboardError, access_of, form_of, login_required, redirect, state_of


@login_required()
async def exemplars(request: web.Request) -> web.StreamResponse:
    d = state_of(request)
    access = access_of(request)
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
    d = state_of(request)
    access = access_of(request)
    try:
        ex_id = int(request.match_info["id"])
    except ValueError:
        raise DashboardError(404, "No such exemplar.") from None
    ex = await d.store.get_exemplar(ex_id)
    if ex is None or not access.can_see(ex.platform, ex.server_id):
        raise DashboardError(404, "No such exemplar (or it belongs to a server you do not moderate).")
    form = form_of(request)
    promote = str(form.get("promote") or "1") == "1"
    stance = str(form.get("stance") or ("assert" if ex.positive else "other"))
    if stance not in {s.value for s in Stance}:
        raise DashboardError(400, "Unknown stance.")
    await d.store.set_promoted(ex.id, promote, access.username, stance)
    await d.store.record_audit(access.username, "promote" if promote else "unpromote", incident_id=ex.incident_id,
                               platform=ex.platform, server_id=ex.server_id,
                               detail={"exemplar_id": ex.id, "stance": stance if promote else None})
    raise redirect(f"/exemplars?done={'1' if promote else '0'}")


@login_required(admin=True)
async def promoted_yaml(request: web.Request) -> web.StreamResponse:
    d = state_of(request)
    access = access_of(request)
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


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/exemplars", exemplars)
    r.add_get("/exemplars/promoted.yaml", promoted_yaml)
    r.add_post(r"/exemplars/{id:\d+}/promote", exemplar_promote)
