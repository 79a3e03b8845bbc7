"""``/incidents/{id}``: one incident (snapshot, card, scores, history) and its verdict form."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from ...core.cards import render_card
from ...core.models import Incident
from ...core.ports import IncidentFilter
from .. import charts
from ..formatting import explanation_of, safe_url
from ..verdicts import is_stale, parse_note, parse_verdict, resolve_one
from ..web import VERDICTS, access_of, form_of, login_required, redirect, state_of


@login_required()
async def incident_page(request: web.Request) -> web.StreamResponse:
    d = state_of(request)
    inc = await d.visible_incident(access_of(request), request.match_info["id"])
    saved = request.query.get("saved", "")  # the verdict just saved, for the notice
    if saved not in {v.value for v in VERDICTS}:
        saved = ""
    return await render_incident(request, inc, saved=saved.replace("_", " "))


async def render_incident(request: web.Request, inc: Incident, *, status: int = 200, saved: str = "",
                          conflict: dict | None = None) -> web.Response:
    """The incident page; ``conflict`` (the verdict and note that were not saved) explains a stale form."""
    d = state_of(request)
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
    return d.render(
        request, "incident.html", status=status, nav="incidents", inc=inc, tp=tp, expl=expl, card=card,
        post=post, prior=prior, exemplars=exemplars, audit=audit, prob_chart=prob_chart, candidates=candidates,
        link=safe_url(inc.message_link), title_of=d.tp_title, saved=saved, conflict=conflict,
        policy=d.detector.point_policy(inc.server_id or None, inc.talking_point_id),
    )


@login_required()
async def incident_resolve(request: web.Request) -> web.StreamResponse:
    d = state_of(request)
    access = access_of(request)
    form = form_of(request)
    status = parse_verdict(form.get("verdict"))
    note = parse_note(form.get("note"))
    async with d.verdict_lock:
        inc = await d.visible_incident(access, request.match_info["id"])
        stale = is_stale(inc, form.get("version"), access.username)
        if not stale:
            await resolve_one(d, access, inc, status, note)
    if stale:  # a colleague's verdict came first: show it, keep theirs unless asked to replace it
        return await render_incident(request, inc, status=409, conflict={"verdict": status.value, "note": note})
    raise redirect(f"/incidents/{inc.id}?saved={status.value}")


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get(r"/incidents/{id:\d+}", incident_page)
    r.add_post(r"/incidents/{id:\d+}/resolve", incident_resolve)
