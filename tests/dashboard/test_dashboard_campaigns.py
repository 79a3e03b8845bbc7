"""``/campaigns`` (issue 16): moderators see the campaigns of their servers only and resolve one as a whole."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.core.campaigns import Sighting
from bot.core.models import Stance
from bot.storage.campaigns import SqliteCampaignRepository

from dashboard_helpers import csrf_of, login

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


async def seed(db, server: str, text: str) -> int:
    members = [Sighting("discord", server, f"ch{i % 2}", f"{server}-m{i}", f"raider{i}", T0 + timedelta(minutes=i),
                        f"{text} <b>{i}</b>", talking_point_id="bucha-staged", stance=Stance.ASSERT) for i in range(4)]
    return (await SqliteCampaignRepository(db).create_campaign("discord", server, "talking_point", "bucha-staged",
                                                               members)).id


async def test_campaigns_page_scoped_and_resolved_in_one_action(client, bot_app):
    mine = await seed(bot_app.db, "guild-1", "Bucha was staged")
    theirs = await seed(bot_app.db, "guild-2", "Other server raid")
    await login(client, "carol")  # moderates discord:guild-1 only
    resp = await client.get("/campaigns")
    page = await resp.text()
    assert resp.status == 200 and f"Campaign #{mine}" in page and f"Campaign #{theirs}" not in page
    assert "&lt;b&gt;0&lt;/b&gt;" in page and "<b>0</b>" not in page  # message text is escaped
    assert "4 messages from 4 accounts in 2 channels" in page

    denied = await client.post(f"/campaigns/{theirs}/resolve", data={"csrf": csrf_of(page), "verdict": "confirmed"},
                               allow_redirects=False)
    assert denied.status == 404
    done = await client.post(f"/campaigns/{mine}/resolve", data={"csrf": csrf_of(page), "verdict": "dismissed"},
                             allow_redirects=False)
    assert done.status == 303
    repo = SqliteCampaignRepository(bot_app.db)
    got = await repo.get_campaign(mine)
    assert (got.status, got.resolved_by) == ("dismissed", "dashboard:carol")
    assert (await repo.get_campaign(theirs)).status == "open"
    assert f"Campaign #{mine}" not in await (await client.get("/campaigns")).text()  # no longer open
