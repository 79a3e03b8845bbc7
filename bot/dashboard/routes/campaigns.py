"""``/campaigns``: campaigns (several accounts pushing one talking point or one copypasta) in the moderator's
servers, each with its accounts, rooms/channels, messages and timeline, resolved as a whole in one action."""

from __future__ import annotations

from aiohttp import web

from ...core.campaign_desk import VERDICT_LABEL, CampaignDesk, alert_sections, parse_verdict
from ...core.campaigns import CampaignTracker
from ...storage.campaigns import SqliteCampaignRepository
from ..web import DashboardError, access_of, form_of, login_required, redirect, state_of


def desk_of(request: web.Request) -> CampaignDesk:
    d = state_of(request)
    desk = getattr(d.bot.service, "campaigns", None)
    return desk if desk is not None else CampaignDesk(CampaignTracker(), SqliteCampaignRepository(d.bot.db))


@login_required()
async def campaigns_page(request: web.Request) -> web.StreamResponse:
    d = state_of(request)
    access = access_of(request)
    status = request.query.get("status", "open")
    status = status if status in VERDICT_LABEL or status == "all" else "open"
    repo = desk_of(request).repository
    recs = [r for r in await repo.list_campaigns(status=None if status == "all" else status, limit=500)
            if access.can_see(r.platform, r.server_id)][:50]
    shown = []
    for r in recs:
        members = await repo.campaign_members(r.id)
        title, sections = alert_sections(r, members, d.tp_title(r.talking_point_id) if r.talking_point_id else None,
                                         d.clock(), max_messages=20)
        shown.append({"rec": r, "title": title, "sections": sections})
    return d.render(request, "campaigns.html", nav="campaigns", campaigns=shown, selected=status,
                    labels=VERDICT_LABEL)


@login_required()
async def campaign_resolve(request: web.Request) -> web.StreamResponse:
    d = state_of(request)
    access = access_of(request)
    verdict = parse_verdict(str(form_of(request).get("verdict") or ""))
    if verdict is None:
        raise DashboardError(400, "Unknown verdict.")
    desk = desk_of(request)
    rec = await desk.repository.get_campaign(int(request.match_info["id"]))
    if rec is None or not access.can_see(rec.platform, rec.server_id):
        raise DashboardError(404, "No such campaign (or it belongs to a server you do not moderate).")
    async with d.verdict_lock:
        await desk.resolve(rec.id, verdict, f"dashboard:{access.username}", d.bot.service.resolve)
    raise redirect(f"/campaigns?status={verdict}")


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/campaigns", campaigns_page)
    r.add_post(r"/campaigns/{id:\d+}/resolve", campaign_resolve)
