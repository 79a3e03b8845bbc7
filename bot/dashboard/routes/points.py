"""``/points``: the talking points with their statistics, and each point's page with its policy form."""

from __future__ import annotations

from aiohttp import web

from ...core.cards import render_card
from ...core.models import TalkingPoint
from ...core.packs import rating_of
from ...storage.dashboard import PointStats, server_key
from ..auth import parse_server_entry
from ..learning import clear_point_policy, set_point_policy
from ..web import Dashboard, DashboardError, access_of, form_of, login_required, redirect, state_of


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
    d = state_of(request)
    access = access_of(request)
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
    d = state_of(request)
    access = access_of(request)
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
    d = state_of(request)
    tp = _tp_or_404(d, request.match_info["tp"])
    notice = {"saved": "Policy saved and applied.", "cleared": "Policy cleared: defaults apply."}.get(
        request.query.get("policy", ""), "")
    return await _point_page(request, tp, notice=notice)


@login_required(admin=True)
async def point_policy(request: web.Request) -> web.StreamResponse:
    d = state_of(request)
    access = access_of(request)
    tp = _tp_or_404(d, request.match_info["tp"])
    form = form_of(request)
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
        raise redirect(f"/points/{tp.id}?policy=cleared#policy")
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
    raise redirect(f"/points/{tp.id}?policy=saved#policy")


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/points", points)
    r.add_get("/points/{tp}", point_page)
    r.add_post("/points/{tp}/policy", point_policy)
