"""Campaign alerts through the fake Discord and the real discord.py client (issue 16): the recorded raid gives
exactly one campaign alert, edited in place as it grows; a busy discussion that mostly refutes the point none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.core.campaign_desk import CampaignDesk
from bot.core.campaigns import CampaignTracker
from bot.core.models import Action, Stance
from bot.core.service import IncidentService
from bot.storage import SqliteIncidentRepository, SqliteSettingsRepository
from bot.storage.campaigns import SqliteCampaignRepository
from discord_fakes import ScriptedDetector, decision
from discord_helpers import rows, say

FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "campaign_raid.json").read_text())


class FixtureDetector(ScriptedDetector):
    """Decides the fixture's messages as recorded (talking point, stance, action); anything else: nothing."""

    def check(self, text, lang=None, *, server_id=None, disabled_packs=()):
        for m in FIXTURE["raid"] + FIXTURE["busy_refuting"]:
            if m["text"] == text and m["talking_point"]:
                action = Action(m["action"])
                return decision(m["talking_point"], Stance(m["stance"]), action, 0.9,
                                incident=action is not Action.NONE)
        return decision(None, None, Action.NONE, 0.0, incident=False)


@pytest.fixture
def detector():
    return FixtureDetector()


@pytest.fixture
async def service(db, registry, detector) -> IncidentService:
    return IncidentService(detector, registry, SqliteIncidentRepository(db), SqliteSettingsRepository(db),
                           campaigns=CampaignDesk(CampaignTracker(), SqliteCampaignRepository(db)))


def campaign_alerts(world) -> list[dict]:
    return [m for m in world.fake.bot_messages(world.modlog)
            if m.get("embeds") and m["embeds"][0].get("title", "").startswith("Campaign #")]


async def replay(bot, world, events) -> None:
    channels = {"general": world.general, "news": world.review,
                "offtopic": world.fake.add_channel(int(world.guild_id), "offtopic", position=7)}
    users: dict[str, dict] = {}
    for e in events:
        author = users.get(e["author"]) or users.setdefault(e["author"], world.fake.make_user(e["author"]))
        await say(bot, world, channels[e["channel"]], e["text"], author)


async def test_recorded_raid_gives_one_alert_edited_in_place(bot, world, db):
    bot.get_cog("Campaigns").edit_interval = 0.3
    await replay(bot, world, FIXTURE["raid"])
    [alert] = campaign_alerts(world)
    whole = "40 messages from 12 accounts in 3 channels"
    await world.fake.wait_until(lambda: any(whole in f["value"] for f in alert["embeds"][0]["fields"]), 20)
    posts = [p for p in world.fake.posted(world.modlog) if p.get("embeds") and
             p["embeds"][0].get("title", "").startswith("Campaign #")]
    assert len(posts) == 1  # posted once, never re-posted
    edits = [c for c in world.fake.calls if c.method == "PATCH" and c.path.endswith(f"/messages/{alert['id']}")]
    assert 1 <= len(edits) < 36  # edited as it grew, throttled: not once per message
    embed = alert["embeds"][0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert whole in fields["Status"]
    assert "account" in fields["Authors"] and "joined" in fields["Authors"]
    assert await rows(db, "SELECT COUNT(*), COUNT(DISTINCT author_id) FROM campaign_messages") == [(40, 12)]

    # one click resolves the whole campaign and its open incidents
    button = next(c["custom_id"] for row in alert["components"] for c in row["components"]
                  if c["custom_id"].endswith(":fp"))
    click = await world.fake.wait_for_answer(await world.fake.click_button(alert, button, user=world.mod))
    assert click.answer()["components"] == []
    assert await rows(db, "SELECT status, resolved_by FROM campaigns") == [("false_positive", f"discord:{world.mod['id']}")]
    assert await rows(db, "SELECT COUNT(*) FROM incidents WHERE status = 'open'") == [(0,)]


async def test_member_cannot_resolve_a_campaign(bot, world, db):
    await replay(bot, world, FIXTURE["raid"][:20])
    [alert] = campaign_alerts(world)
    button = alert["components"][0]["components"][0]["custom_id"]
    click = await world.fake.wait_for_answer(await world.fake.click_button(alert, button, user=world.alice))
    assert click.ephemeral()
    assert await rows(db, "SELECT status FROM campaigns") == [("open",)]


async def test_busy_refuting_discussion_gives_no_campaign_alert(bot, world, db):
    await replay(bot, world, FIXTURE["busy_refuting"])
    assert campaign_alerts(world) == []
    assert await rows(db, "SELECT COUNT(*) FROM campaigns") == [(0,)]
