"""End-to-end tests against a REAL Synapse: the real bot (real nio client, real IncidentService, real SQLite,
real Detector) and real nio clients as room members.

Every wait is event-driven (a member's sync loop) with a timeout. "Nothing happened" is proven with a barrier:
a ``!cb help`` sent afterwards in the same room; the bot handles a room's events in order, so once the help
answer is there, every earlier message has been handled.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot.config import MatrixConfig
from bot.core.models import ChannelMode, IncidentStatus
from bot.core.ports import IncidentFilter
from bot.matrix_adapter import MatrixBot, create_client, login
from bot.matrix_adapter.convert import permalink, server_id_for_room
from bot.matrix_adapter.render import content_is_quiet

from matrix_harness import BotRunner, Member, bot_reply_to, content, is_card, membership, reply_to_of

pytestmark = pytest.mark.synapse

# Texts checked with `python -m bot check` against the shipped pack.
ASSERT_NATO = "NATO expansion provoked this war, period. Russia had no choice but to invade Ukraine."
ASSERT_BOMB = "Ukraine is preparing a dirty bomb to blame Russia."
EDIT_BOMB = "Ukraine is preparing a dirty bomb to blame Russia, they have been planning it for months."
ASSERT_SANCTIONS = "The sanctions backfired, they hurt Europe much more than Russia."
REFUTE_CLEAR = "NATO didn't provoke anything. That story is a myth pushed by Russian state TV."
REFUTE_BRIEF = "No, NATO didn't force anyone. Countries asked to join, and Russia chose to invade."


async def make_room(people, bot_id: str, *, encrypted: bool = False, room_version: str | None = None) -> str:
    """A room created by alice with mod (50), member and other (0), and the bot invited; waits for the bot."""
    room = await people.alice.create_room(
        invite=(people.mod.user_id, people.member.user_id, people.other.user_id, bot_id),
        power={people.mod.user_id: 50}, encrypted=encrypted, room_version=room_version)
    for p in (people.mod, people.member, people.other):
        await p.join(room)
    await people.alice.wait_for(membership(room, bot_id, "join"), "the bot to join the room")
    return room


async def make_management_room(people, bot_id: str) -> str:
    room = await people.alice.create_room(invite=(people.mod.user_id, people.other.user_id, bot_id),
                                          power={people.mod.user_id: 50}, name="moderators")
    await people.mod.join(room)
    await people.other.join(room)
    return room


async def barrier(people, who: Member, room: str, bot_id: str) -> None:
    eid = await who.say(room, "!cb help")
    await people.alice.wait_for(bot_reply_to(bot_id, room, eid), "the bot's answer to the barrier !cb help")


def bot_events(people, room: str, bot_id: str) -> list[dict]:
    return people.alice.find(lambda r, ev: r == room and ev.get("sender") == bot_id and ev.get("type") == "m.room.message")


async def set_mode(app, room: str, mode: ChannelMode, bot_id: str) -> None:
    await app.service.settings.set_channel_mode("matrix", server_id_for_room(room, bot_id), room, mode)


# ------------------------------------------------------------------------------------------ cards


async def test_reply_mode_card_and_no_card_under_refutations(synapse, people, app, bot_account):
    runner = BotRunner(synapse, bot_account, app, allowed_inviters=(people.alice.user_id,))
    bot = await runner.start()
    try:
        room = await make_room(people, bot.user_id)
        await set_mode(app, room, ChannelMode.REPLY, bot.user_id)

        src = await people.member.say(room, ASSERT_NATO)
        card = await people.alice.wait_for(bot_reply_to(bot.user_id, room, src), "a context card under the assertion")
        c = content(card)
        assert c["msgtype"] == "m.notice" and c["format"] == "org.matrix.custom.html"
        assert c["formatted_body"].startswith("<h4>") and "<ul><li>" in c["formatted_body"]
        assert c["m.relates_to"] == {"m.in_reply_to": {"event_id": src}}
        assert c["m.mentions"] == {} and content_is_quiet(c)
        assert people.member.user_id not in c["body"] and "@room" not in c["body"]

        incidents = await app.service.incidents.incidents_for_message("matrix", room, src)
        assert [(i.talking_point_id, i.action.value, i.author_id) for i in incidents] == [
            ("nato-expansion-provoked", "reply", people.member.user_id)]
        assert incidents[0].message_link == permalink(room, src) and incidents[0].message_link.startswith("https://matrix.to/#/!")
        post = await app.service.incidents.card_post_for_source("matrix", room, src)
        assert post is not None and post.post_message_id == card["event_id"] and post.server_id == "localhost"

        # Debunking must never get a card.
        clear = await people.other.say(room, REFUTE_CLEAR)
        brief = await people.other.say(room, REFUTE_BRIEF)
        # A quoted claim in a reply fallback is not the author's claim.
        quoted = await people.other.say(
            room, f"> <{people.member.user_id}> {ASSERT_NATO}\n\nNonsense, that's Kremlin propaganda.",
            **{"m.relates_to": {"m.in_reply_to": {"event_id": src}}})
        # A threaded assertion gets its card inside the thread.
        threaded = await people.other.say(room, ASSERT_SANCTIONS, **{"m.relates_to": {"rel_type": "m.thread", "event_id": src}})
        tcard = await people.alice.wait_for(bot_reply_to(bot.user_id, room, threaded), "a card in the thread")
        assert content(tcard)["m.relates_to"]["rel_type"] == "m.thread"
        assert content(tcard)["m.relates_to"]["event_id"] == src
        await barrier(people, people.member, room, bot.user_id)

        for eid in (clear, brief, quoted):
            assert not people.alice.find(bot_reply_to(bot.user_id, room, eid)), "a card under a refutation"
        assert await app.service.incidents.incidents_for_message("matrix", room, clear) == []
        assert await app.service.incidents.incidents_for_message("matrix", room, quoted) == []
        assert all(content_is_quiet(content(ev)) for ev in bot_events(people, room, bot.user_id))
    finally:
        await runner.stop()


async def test_feedback_edit_and_redaction(synapse, people, app, bot_account):
    runner = BotRunner(synapse, bot_account, app, allowed_inviters=(people.alice.user_id,))
    bot = await runner.start()
    try:
        room = await make_room(people, bot.user_id)
        await set_mode(app, room, ChannelMode.REPLY, bot.user_id)
        # alice created this (version 12) room: creators are not in the power levels but are moderators
        ask = await people.alice.say(room, "!cb mode")
        ans = await people.alice.wait_for(bot_reply_to(bot.user_id, room, ask), "the mode answer")
        assert "Mode in this room: reply" in content(ans)["body"]

        src = await people.member.say(room, ASSERT_BOMB)
        card = await people.alice.wait_for(bot_reply_to(bot.user_id, room, src), "a card")
        post = await app.service.incidents.card_post_for_source("matrix", room, src)

        # 👍 / 👎 reactions on the card -> card_feedback rows (one vote per member)
        await people.other.react(room, card["event_id"], "👍️")
        await people.mod.react(room, card["event_id"], "👎")
        await people.alice.react(room, src, "👍")  # not a card: ignored
        await barrier(people, people.member, room, bot.user_id)
        assert await app.service.incidents.feedback_counts(post.id) == (1, 1)

        # An edit (m.replace) of the asserted message is re-checked without a second card or incident.
        await people.member.edit(room, src, EDIT_BOMB)
        await barrier(people, people.member, room, bot.user_id)
        cards = [ev for ev in bot_events(people, room, bot.user_id) if is_card(ev)]
        assert [reply_to_of(ev) for ev in cards] == [src]
        assert len(await app.service.incidents.incidents_for_message("matrix", room, src)) == 1

        # An edit forged by someone else is ignored.
        await people.other.edit(room, src, ASSERT_SANCTIONS)
        await barrier(people, people.member, room, bot.user_id)
        assert len([ev for ev in bot_events(people, room, bot.user_id) if is_card(ev)]) == 1

        # Redaction purges the stored message content.
        await people.member.redact(room, src)
        await barrier(people, people.member, room, bot.user_id)
        [incident] = await app.service.incidents.incidents_for_message("matrix", room, src)
        assert incident.content is None
    finally:
        await runner.stop()


# ------------------------------------------------------------------------------------------ moderation


async def test_moderator_commands_power_levels_and_alerts(synapse, people, app, bot_account):
    mgmt = await make_management_room(people, bot_account.user_id)
    runner = BotRunner(synapse, bot_account, app, allowed_inviters=(people.alice.user_id,), management_room=mgmt)
    bot = await runner.start()
    try:
        await people.alice.wait_for(membership(mgmt, bot.user_id, "join"), "the bot in the management room")
        room = await make_room(people, bot.user_id, room_version="10")  # a room id with a server part
        server = server_id_for_room(room, bot.user_id)

        # power 0: refused, nothing changes
        ask = await people.member.say(room, "!cb mode reply")
        refusal = await people.alice.wait_for(bot_reply_to(bot.user_id, room, ask), "a refusal")
        assert "only moderators" in content(refusal)["body"]
        assert await app.service.settings.get_channel_mode("matrix", server, room) is ChannelMode.REVIEW

        # default mode review: an assertion becomes an incident and an alert in the management room
        src = await people.member.say(room, ASSERT_SANCTIONS)
        alert = await people.alice.wait_for(
            lambda r, ev: r == mgmt and ev.get("sender") == bot.user_id and "needs review" in content(ev).get("body", ""),
            "an alert in the management room")
        [incident] = await app.service.incidents.incidents_for_message("matrix", room, src)
        assert f"incident #{incident.id}" in content(alert)["body"] and content_is_quiet(content(alert))
        assert not people.alice.find(bot_reply_to(bot.user_id, room, src)), "no card in review mode"

        # ✅ from a power-0 user on the alert is refused; ❌ from a moderator resolves as false positive
        await people.other.react(mgmt, alert["event_id"], "✅")
        await people.mod.react(mgmt, alert["event_id"], "❌")
        await people.alice.wait_for(
            lambda r, ev: r == mgmt and ev.get("sender") == bot.user_id and reply_to_of(ev) == alert["event_id"]
            and "marked false_positive" in content(ev).get("body", ""), "the verdict notice")
        refusals = people.alice.find(lambda r, ev: r == mgmt and reply_to_of(ev) == alert["event_id"]
                                     and "only moderators" in content(ev).get("body", ""))
        assert len(refusals) == 1
        got = await app.service.incidents.get_incident(incident.id)
        assert got.status is IncidentStatus.FALSE_POSITIVE and got.reviewer == people.mod.user_id

        # !cb resolve: refused for power 0, works for power 50
        ask = await people.member.say(room, f"!cb resolve {incident.id} confirmed")
        refusal = await people.alice.wait_for(bot_reply_to(bot.user_id, room, ask), "a refusal")
        assert "only moderators" in content(refusal)["body"]
        assert (await app.service.incidents.get_incident(incident.id)).status is IncidentStatus.FALSE_POSITIVE

        ask = await people.mod.say(room, "!cb incidents all")
        listing = await people.alice.wait_for(bot_reply_to(bot.user_id, room, ask), "the incident list")
        assert f"#{incident.id}" in content(listing)["body"] and content_is_quiet(content(listing))
        ask = await people.mod.say(mgmt, "!cb incidents all")  # the management room sees every room
        listing = await people.alice.wait_for(bot_reply_to(bot.user_id, mgmt, ask), "the management room's list")
        assert f"#{incident.id}" in content(listing)["body"] and "all rooms" in content(listing)["body"]
        ask = await people.mod.say(room, f"!cb incident {incident.id}")
        detail = await people.alice.wait_for(bot_reply_to(bot.user_id, room, ask), "the incident details")
        assert "sanctions-backfire" in content(detail)["body"] and content_is_quiet(content(detail))

        ask = await people.mod.say(room, f"!cb resolve {incident.id} confirmed looked again")
        done = await people.alice.wait_for(bot_reply_to(bot.user_id, room, ask), "the resolve answer")
        assert "marked confirmed" in content(done)["body"]
        got = await app.service.incidents.get_incident(incident.id)
        assert (got.status, got.reviewer, got.note) == (IncidentStatus.CONFIRMED, people.mod.user_id, "looked again")

        ask = await people.mod.say(room, "!cb mode reply")
        await people.alice.wait_for(bot_reply_to(bot.user_id, room, ask), "the mode answer")
        assert await app.service.settings.get_channel_mode("matrix", server, room) is ChannelMode.REPLY
        src2 = await people.other.say(room, ASSERT_BOMB)
        await people.alice.wait_for(bot_reply_to(bot.user_id, room, src2), "a card now that the room is in reply mode")
    finally:
        await runner.stop()


async def test_member_commands_with_access_token_login(synapse, people, app, bot_account):
    runner = BotRunner(synapse, bot_account, app, allowed_inviters=(people.alice.user_id,), use_token=True)
    bot = await runner.start()
    try:
        room = await make_room(people, bot.user_id)
        ask = await people.member.say(room, f"!cb check {ASSERT_NATO}")
        ans = content(await people.alice.wait_for(bot_reply_to(bot.user_id, room, ask), "the check answer"))
        assert "nato-expansion-provoked" in ans["body"] and "<h4>" in ans["formatted_body"] and content_is_quiet(ans)

        plain = await people.other.say(room, "Anyone up for pizza tonight?")
        ask = await people.member.say(room, "!cb check", **{"m.relates_to": {"m.in_reply_to": {"event_id": plain}}})
        ans = content(await people.alice.wait_for(bot_reply_to(bot.user_id, room, ask), "the check-by-reply answer"))
        assert "No known talking point" in ans["body"]

        ask = await people.member.say(room, "!cb context biolabs")
        ans = content(await people.alice.wait_for(bot_reply_to(bot.user_id, room, ask), "the context card"))
        assert ans["formatted_body"].startswith("<h4>") and "us-biolabs" in ans["body"]

        # no client language in Matrix: a Russian check is answered in Russian, a Russian topic gets the Russian card
        ask = await people.member.say(room, "!cb check На Украине факельные шествия в честь Бандеры, а вы говорите, "
                                            "нацизма нет. денацификация была нужна")
        ans = content(await people.alice.wait_for(bot_reply_to(bot.user_id, room, ask), "the Russian check answer"))
        assert ans["body"].startswith("Ближайший тезис: ") and "(nazi-regime) · позиция: утверждает" in ans["body"]
        assert "<h4>" in ans["formatted_body"] and "Источники" in ans["formatted_body"]
        ask = await people.member.say(room, "!cb context лаборатории")
        ans = content(await people.alice.wait_for(bot_reply_to(bot.user_id, room, ask), "the Russian context card"))
        assert ans["formatted_body"].startswith("<h4>") and "лаборатории биологического оружия" in ans["body"]
        ask = await people.member.say(room, "!cb context йцукенгшщз")
        ans = content(await people.alice.wait_for(bot_reply_to(bot.user_id, room, ask), "the Russian no-match answer"))
        assert ans["body"] == "Ни один тезис не подходит к «йцукенгшщз»."

        ask = await people.member.say(room, "!cb frobnicate")
        ans = content(await people.alice.wait_for(bot_reply_to(bot.user_id, room, ask), "the unknown-command answer"))
        assert "Unknown command" in ans["body"]
        # checking logs nothing
        assert await app.service.incidents.count_incidents(IncidentFilter()) == 0
    finally:
        await runner.stop()


# ------------------------------------------------------------------------------------------ sync / restarts


async def test_first_start_ignores_history_and_restart_neither_replays_nor_misses(synapse, people, app, bot_account,
                                                                                    caplog):
    caplog.set_level(logging.INFO, logger="bot.matrix_adapter")
    # The bot account is in the room, with an assertion in the history, before the bot has ever run.
    room = await people.alice.create_room(invite=(people.member.user_id, people.other.user_id, bot_account.user_id))
    await people.member.join(room)
    await people.other.join(room)
    bot_user = await Member(synapse, bot_account).start()
    try:
        await bot_user.join(room)
    finally:
        await bot_user.close()
    history = await people.member.say(room, ASSERT_NATO)
    await set_mode(app, room, ChannelMode.REPLY, bot_account.user_id)

    runner = BotRunner(synapse, bot_account, app, allowed_inviters=(people.alice.user_id,), timeline_limit=3)
    bot = await runner.start()
    help1 = await people.member.say(room, "!cb help")
    await people.alice.wait_for(bot_reply_to(bot.user_id, room, help1), "the help answer")
    assert not people.alice.find(bot_reply_to(bot.user_id, room, history)), "history must be ignored on first start"
    await runner.stop()

    # While the bot is down: an assertion, then more chatter than the bot's timeline limit (forces a gap fill).
    missed = await people.other.say(room, ASSERT_BOMB)
    for i in range(5):
        await people.member.say(room, f"just chatting {i}")

    runner = BotRunner(synapse, bot_account, app, allowed_inviters=(people.alice.user_id,), timeline_limit=3)
    bot = await runner.start()
    try:
        await people.alice.wait_for(bot_reply_to(bot.user_id, room, missed), "a card for the message sent while down")
        await barrier(people, people.member, room, bot.user_id)
        assert len(people.alice.find(bot_reply_to(bot.user_id, room, missed))) == 1
        assert len(people.alice.find(bot_reply_to(bot.user_id, room, help1))) == 1, "an old command was replayed"
        assert not people.alice.find(bot_reply_to(bot.user_id, room, history))
        assert len(await app.service.incidents.incidents_for_message("matrix", room, missed)) == 1
        assert await app.service.settings.get_value(f"matrix:sync_token:{bot.user_id}")
        assert f"sync gap in {room} recovered" in caplog.text
    finally:
        await runner.stop()


# ------------------------------------------------------------------------------------------ invites & e2ee


async def test_invite_from_non_allowed_user_is_rejected(synapse, people, app, bot_account, accounts):
    runner = BotRunner(synapse, bot_account, app, allowed_inviters=(people.alice.user_id, people.mod.user_id))
    bot = await runner.start()
    outsider = await Member(synapse, accounts["outsider"]).start()
    try:
        room = await outsider.create_room(invite=(bot.user_id,))
        left = await outsider.wait_for(membership(room, bot.user_id, "leave"), "the bot to reject the invite")
        assert "allowed" in content(left).get("reason", "")
        assert not outsider.find(membership(room, bot.user_id, "join"))
        # an allowed inviter's room is joined
        ok = await people.mod.create_room(invite=(bot.user_id,))
        await people.mod.wait_for(membership(ok, bot.user_id, "join"), "the bot to accept mod's invite")
    finally:
        await outsider.close()
        await runner.stop()


async def test_encrypted_room_gets_one_notice(synapse, people, app, bot_account):
    runner = BotRunner(synapse, bot_account, app, allowed_inviters=(people.alice.user_id,))
    bot = await runner.start()
    try:
        room = await make_room(people, bot.user_id, encrypted=True)
        notice = await people.alice.wait_for(
            lambda r, ev: r == room and ev.get("sender") == bot.user_id and "encrypted" in content(ev).get("body", ""),
            "the encrypted-room notice")
        assert content(notice)["msgtype"] == "m.notice"
        await people.member.send(room, {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AAAA", "sender_key": "x",
                                        "session_id": "y", "device_id": "Z"}, "m.room.encrypted")
        await barrier(people, people.member, room, bot.user_id)  # plaintext commands still work
        notices = [ev for ev in bot_events(people, room, bot.user_id) if "cannot read" in content(ev).get("body", "")]
        assert len(notices) == 1
    finally:
        await runner.stop()


# ------------------------------------------------------------------------------------------ rate limits


async def test_rate_limited_sends_are_retried(synapse, people, app, bot_account, caplog):
    synapse.override_ratelimit(bot_account.user_id, messages_per_second=2, burst_count=1)
    room = await people.alice.create_room(invite=(bot_account.user_id,))
    cfg = MatrixConfig(homeserver=synapse.url, user_id=bot_account.user_id, password=bot_account.password)
    client = create_client(cfg)
    try:
        await login(client, cfg, app.service.settings)
        assert (await client.join(room)).room_id == room
        bot = MatrixBot(client, app.service, cfg)
        caplog.set_level(logging.INFO, logger="bot.matrix_adapter")
        start = time.monotonic()
        ids = [await bot.send(room, {"msgtype": "m.notice", "body": f"notice {i}"}) for i in range(4)]
        assert all(ids) and len(set(ids)) == 4
        assert time.monotonic() - start >= 1.0  # Synapse made us wait
        assert "rate limited" in caplog.text
        for i in range(4):
            await people.alice.wait_for(lambda r, ev, i=i: r == room and content(ev).get("body") == f"notice {i}",
                                        f"notice {i}")
        assert len(people.alice.find(lambda r, ev: r == room and ev.get("sender") == bot_account.user_id
                                     and ev.get("type") == "m.room.message")) == 4
    finally:
        await client.close()
        await asyncio.sleep(0)
