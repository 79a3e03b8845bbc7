"""``/overview``: totals and the SVG charts for the last 7, 30 or 90 days."""

from __future__ import annotations

from datetime import timedelta, timezone

from aiohttp import web

from .. import charts
from ..formatting import start_of
from ..web import access_of, login_required, state_of


@login_required()
async def overview(request: web.Request) -> web.StreamResponse:
    d = state_of(request)
    access = access_of(request)
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
    days_shown = charts.day_range(first, today)
    title = f"Incidents per day, last {days} days"
    daily = charts.stacked_daily(days_shown, rows, names, title=title, width=1060)
    # the same chart drawn for a phone (CSS shows one or the other): its labels keep a readable size
    daily_narrow = charts.stacked_daily(days_shown, rows, names, title=title, width=340, height=220, max_labels=5)
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
                    shadow=await d.store.shadow_replies(scope, since), daily=daily, daily_narrow=daily_narrow,
                    actions=actions, verdicts=verdicts, feedback=feedback, top=top, title_of=d.tp_title, since=first,
                    until=today)


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/overview", overview)
