"""Campaign alerts against a REAL Synapse (issue 16): the real bot, real detector, real SQLite. The recorded raid
(12 accounts, 3 rooms, 40 raid messages mixed with ordinary chat) gives exactly one campaign notice in the
management room, kept up to date with m.replace edits; a busy discussion that mostly refutes the point gives none.
Raiders post through the client-server API directly (12 sync loops would only slow the test down)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from matrix_harness import BotRunner, bot_reply_to, content, membership, new_content, reply_to_of

pytestmark = pytest.mark.synapse
FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "campaign_raid.json").read_text())


async def post(synapse, account, room: str, body: str) -> str:
    path = f"/_matrix/client/v3/rooms/{room}/send/m.room.message/{uuid.uuid4().hex}"
    resp = await asyncio.to_thread(synapse.request, "PUT", path, {"msgtype": "m.text", "body": body},
                                   account.access_token)
    return resp["event_id"]


async def management_room(people, bot_id: str) -> str:
    mgmt = await people.alice.create_room(invite=(people.mod.user_id, people.other.user_id, bot_id),
                                          power={people.mod.user_id: 50}, name="moderators")
    await people.mod.join(mgmt)
    await people.other.join(mgmt)
    return mgmt


async def setup_rooms(synapse, people, bot_id: str, authors: set[str]):
    accounts = {a: synapse.register(synapse.unique(a)) for a in sorted(authors)}
    rooms = {}
    for name in ("general", "news", "offtopic"):
        room = await people.alice.create_room(invite=(bot_id, *(a.user_id for a in accounts.values())),
                                              name=name, room_version="10")  # rooms of one server
        for acc in accounts.values():
            await asyncio.to_thread(synapse.request, "POST", f"/_matrix/client/v3/join/{room}", {}, acc.access_token)
        await people.alice.wait_for(membership(room, bot_id, "join"), "the bot to join the room")
        rooms[name] = room
    return accounts, rooms


def campaign_notices(people, mgmt: str, bot_id: str) -> list[dict]:
    return people.alice.find(lambda r, ev: r == mgmt and ev.get("sender") == bot_id
                             and content(ev).get("body", "").startswith("⚠ Campaign #"))


def campaign_edits(people, mgmt: str, bot_id: str, event_id: str) -> list[dict]:
    return people.alice.find(lambda r, ev: r == mgmt and ev.get("sender") == bot_id
                             and content(ev).get("m.relates_to", {}).get("event_id") == event_id
                             and content(ev).get("m.relates_to", {}).get("rel_type") == "m.replace")


async def replay(synapse, people, runner_bot, events, accounts, rooms, mgmt) -> None:
    for e in events:
        await post(synapse, accounts[e["author"]], rooms[e["channel"]], e["text"])
    for room in rooms.values():  # barrier: the bot handles a room's events in order
        eid = await people.alice.say(room, "!cb help")
        await people.alice.wait_for(bot_reply_to(runner_bot.user_id, room, eid), "the barrier's answer", timeout=120)


async def test_recorded_raid_gives_one_campaign_notice_edited(synapse, people, app, bot_account):
    events = FIXTURE["raid"]
    mgmt = await management_room(people, bot_account.user_id)
    runner = BotRunner(synapse, bot_account, app, allowed_inviters=(people.alice.user_id,), management_room=mgmt)
    bot = await runner.start()
    try:
        await people.alice.wait_for(membership(mgmt, bot.user_id, "join"), "the bot in the management room")
        accounts, rooms = await setup_rooms(synapse, people, bot.user_id, {e["author"] for e in events})
        await replay(synapse, people, bot, events, accounts, rooms, mgmt)
        [notice] = campaign_notices(people, mgmt, bot.user_id)
        latest = lambda: [new_content(ev)["body"] for ev in campaign_edits(people, mgmt, bot.user_id, notice["event_id"])]
        await people.alice.wait_for(lambda r, ev: any("from 12 accounts in 3 channels" in b for b in latest()),
                                    "the campaign notice edited to the whole raid", timeout=60)
        [rec] = await app.service.campaigns.repository.list_campaigns("matrix")
        assert rec.talking_point_id == FIXTURE["talking_point"] and rec.author_count == 12
        assert rec.alert_message_id == notice["event_id"]
        assert len(campaign_notices(people, mgmt, bot.user_id)) == 1  # edited in place, never re-posted

        await people.other.react(mgmt, notice["event_id"], "✅")  # power 0: refused
        await people.mod.react(mgmt, notice["event_id"], "✅")  # one reaction resolves the whole campaign
        await people.alice.wait_for(lambda r, ev: r == mgmt and f"Campaign #{rec.id} marked confirmed"
                                    in content(ev).get("body", ""), "the campaign verdict", timeout=120)
        assert people.alice.find(lambda r, ev: r == mgmt and reply_to_of(ev) == notice["event_id"]
                                 and "only moderators" in content(ev).get("body", ""))
        assert (await app.service.campaigns.repository.get_campaign(rec.id)).status == "confirmed"
        ask = await people.mod.say(mgmt, "!cb campaigns")
        listing = await people.alice.wait_for(bot_reply_to(bot.user_id, mgmt, ask), "the campaign list")
        assert "No open campaigns" in content(listing)["body"]
    finally:
        await runner.stop()


async def test_busy_refuting_discussion_gives_no_campaign(synapse, people, app, bot_account):
    events = FIXTURE["busy_refuting"]
    mgmt = await management_room(people, bot_account.user_id)
    runner = BotRunner(synapse, bot_account, app, allowed_inviters=(people.alice.user_id,), management_room=mgmt)
    bot = await runner.start()
    try:
        await people.alice.wait_for(membership(mgmt, bot.user_id, "join"), "the bot in the management room")
        accounts, rooms = await setup_rooms(synapse, people, bot.user_id, {e["author"] for e in events})
        await replay(synapse, people, bot, events, accounts, rooms, mgmt)
        assert campaign_notices(people, mgmt, bot.user_id) == []
        assert await app.service.campaigns.repository.list_campaigns("matrix") == []
    finally:
        await runner.stop()
