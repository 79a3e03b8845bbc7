"""Moderator trust on a REAL Synapse (issue 14, points 11-15): cards and alert excerpts go when the message
goes, commands sent as replies with a legacy fallback, paging, readable alerts, a quiet check answer, and
invites refused unless someone is allowed to invite.

Waits are event-driven (the members' sync loops); "nothing happened" is proven with a ``!cb help`` barrier.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from bot.core.models import ChannelMode, IncidentStatus
from bot.core.sanitize import ZWSP
from bot.matrix_adapter.convert import permalink
from bot.matrix_adapter.render import content_is_quiet
from incident_factory import new_incident

from matrix_harness import BotRunner, Member, bot_reply_to, content, edit_of, is_card, membership, new_content
from synapse_server import ROOT
from test_matrix_synapse import (
    ASSERT_BOMB,
    ASSERT_NATO,
    ASSERT_SANCTIONS,
    barrier,
    make_management_room,
    make_room,
    set_mode,
)

pytestmark = pytest.mark.synapse

HARMLESS = "I had lunch with my colleague today"
ASSERT_BOMB_AGAIN = "They are building a dirty bomb in Ukraine and will blame it on Russia."


def from_bot(bot_id: str, room: str, needle: str):
    """A new message (not an edit) by the bot in ``room`` whose body contains ``needle``."""
    return lambda r, ev: (r == room and ev.get("sender") == bot_id and needle in content(ev).get("body", "")
                          and "m.new_content" not in content(ev))


# ------------------------------------------------------------------------------------------ 11: cards taken down


async def test_redacted_message_loses_its_card_and_the_budget_stops_counting_it(synapse, people, app, bot_account):
    runner = BotRunner(synapse, bot_account, app, allowed_inviters=(people.alice.user_id,))
    bot = await runner.start()
    try:
        room = await make_room(people, bot.user_id)
        await set_mode(app, room, ChannelMode.REPLY, bot.user_id)
        src = await people.member.say(room, ASSERT_BOMB)
        card = await people.alice.wait_for(bot_reply_to(bot.user_id, room, src), "a card")

        await people.member.redact(room, src)
        edit = await people.alice.wait_for(edit_of(bot.user_id, room, card["event_id"]), "the card withdrawn")
        assert new_content(edit)["body"].startswith("This context card was withdrawn")
        assert new_content(edit)["m.mentions"] == {} and content_is_quiet(content(edit))
        assert "m.relates_to" not in new_content(edit)  # the card stays a reply to the (now redacted) message
        post = await app.service.incidents.card_post_for_source("matrix", room, src)
        assert post.retracted
        [incident] = await app.service.incidents.incidents_for_message("matrix", room, src)
        assert incident.content is None

        # The same talking point again within the 30-minute cooldown: the withdrawn card no longer counts.
        again = await people.other.say(room, ASSERT_BOMB_AGAIN)
        second = await people.alice.wait_for(bot_reply_to(bot.user_id, room, again), "a new card for the repeat")
        assert is_card(second)

        # A moderator redacting a card: the bot stops counting it too (and does not edit a redacted event).
        await people.alice.redact(room, second["event_id"])
        await barrier(people, people.member, room, bot.user_id)
        assert (await app.service.incidents.card_post_by_post_id("matrix", second["event_id"])).retracted
        assert not people.alice.find(edit_of(bot.user_id, room, second["event_id"]))
    finally:
        await runner.stop()


async def test_edit_into_something_harmless_withdraws_the_card_and_closes_the_incident(synapse, people, app,
                                                                                     bot_account):
    runner = BotRunner(synapse, bot_account, app, allowed_inviters=(people.alice.user_id,))
    bot = await runner.start()
    try:
        room = await make_room(people, bot.user_id)
        await set_mode(app, room, ChannelMode.REPLY, bot.user_id)
        src = await people.member.say(room, ASSERT_NATO)
        card = await people.alice.wait_for(bot_reply_to(bot.user_id, room, src), "a card")

        await people.member.edit(room, src, HARMLESS)
        edit = await people.alice.wait_for(edit_of(bot.user_id, room, card["event_id"]), "the card withdrawn")
        assert "withdrawn" in new_content(edit)["body"]
        [incident] = await app.service.incidents.incidents_for_message("matrix", room, src)
        assert (incident.content, incident.status, incident.reviewer) == (HARMLESS, IncidentStatus.DISMISSED,
                                                                          "contextbot")
        assert (await app.service.incidents.card_post_for_source("matrix", room, src)).retracted

        # An edit that still asserts the claim keeps the card (and the bot never edits it twice).
        src2 = await people.other.say(room, ASSERT_SANCTIONS)
        card2 = await people.alice.wait_for(bot_reply_to(bot.user_id, room, src2), "a second card")
        await people.other.edit(room, src2, ASSERT_SANCTIONS + " Everyone in Europe pays for it.")
        await barrier(people, people.member, room, bot.user_id)
        assert not people.alice.find(edit_of(bot.user_id, room, card2["event_id"]))
        [kept] = await app.service.incidents.incidents_for_message("matrix", room, src2)
        assert kept.status is IncidentStatus.OPEN and kept.content.endswith("Everyone in Europe pays for it.")
        assert len(people.alice.find(edit_of(bot.user_id, room, card["event_id"]))) == 1
    finally:
        await runner.stop()


# ------------------------------------------------------------------------------------------ 12 + 14: alerts


async def test_alerts_name_the_room_show_ids_verbatim_and_lose_their_excerpt(synapse, people, app, bot_account):
    mgmt = await make_management_room(people, bot_account.user_id)
    runner = BotRunner(synapse, bot_account, app, allowed_inviters=(people.alice.user_id,), management_room=mgmt,
                       alert_sweep_interval=0)
    bot = await runner.start()
    try:
        await people.alice.wait_for(membership(mgmt, bot.user_id, "join"), "the bot in the management room")
        room = await people.alice.create_room(invite=(people.other.user_id, people.member.user_id, bot.user_id),
                                              name="Ukraine chat")
        await people.other.join(room)
        await people.member.join(room)
        await people.alice.wait_for(membership(room, bot.user_id, "join"), "the bot to join")

        # `other` is in the management room too: the alert names them without pinging them
        src = await people.other.say(room, ASSERT_SANCTIONS)
        alert = await people.alice.wait_for(from_bot(bot.user_id, mgmt, "needs review"), "the alert")
        c = content(alert)
        assert "Room: Ukraine chat · message: " + permalink(room, src) in c["body"]
        assert f"Author: `{people.other.user_id}`" in c["body"]
        assert f"Author: <code>{people.other.user_id}</code>" in c["formatted_body"]
        assert ZWSP not in c["body"] and ZWSP not in c["formatted_body"]
        assert c["m.mentions"] == {} and content_is_quiet(c)
        highlights = synapse.request("GET", "/_matrix/client/v3/notifications?only=highlight",
                                     token=people.other.account.access_token)["notifications"]
        assert alert["event_id"] not in [n["event"]["event_id"] for n in highlights]

        # Redaction: the alert keeps its event id and loses the excerpt.
        await people.other.redact(room, src)
        edit = await people.alice.wait_for(edit_of(bot.user_id, mgmt, alert["event_id"]), "the alert edited")
        assert "Message: (content removed)" in new_content(edit)["body"]
        assert "sanctions" not in new_content(edit)["body"].split("Message:")[1]
        assert "sanctions" not in edit["content"]["body"].split("Message:")[1]  # nor in the "* " fallback
        assert content_is_quiet(new_content(edit))

        # Retention purge (python -m bot incidents purge runs in another process): the next sweep edits it.
        src2 = await people.member.say(room, ASSERT_BOMB)
        alert2 = await people.alice.wait_for(
            lambda r, ev: from_bot(bot.user_id, mgmt, "needs review")(r, ev) and ev["event_id"] != alert["event_id"],
            "the second alert")
        assert await app.service.incidents.purge_content_before(datetime.now(timezone.utc) + timedelta(days=1)) == 1
        await barrier(people, people.member, room, bot.user_id)
        edit2 = await people.alice.wait_for(edit_of(bot.user_id, mgmt, alert2["event_id"]), "the purged alert edited")
        assert "Message: (content removed)" in new_content(edit2)["body"]
        [incident2] = await app.service.incidents.incidents_for_message("matrix", room, src2)

        # The alert's id still works: ✅ resolves, and the alert then shows the verdict.
        await people.mod.react(mgmt, alert2["event_id"], "✅")
        verdict = await people.alice.wait_for(
            lambda r, ev: edit_of(bot.user_id, mgmt, alert2["event_id"])(r, ev) and "confirmed by" in new_content(ev)["body"],
            "the alert showing the verdict")
        assert f"incident #{incident2.id}: confirmed by `{people.mod.user_id}`" in new_content(verdict)["body"]
        assert (await app.service.incidents.get_incident(incident2.id)).status is IncidentStatus.CONFIRMED
        assert len(people.alice.find(edit_of(bot.user_id, mgmt, alert["event_id"]))) == 1  # never re-edited

        # An edit into something harmless: the alert shows the new text and that the bot closed it.
        src3 = await people.member.say(room, ASSERT_NATO)
        alert3 = await people.alice.wait_for(from_bot(bot.user_id, mgmt, "nato-expansion-provoked"), "the third alert")
        await people.member.edit(room, src3, HARMLESS)
        closed = await people.alice.wait_for(edit_of(bot.user_id, mgmt, alert3["event_id"]), "the alert closed")
        assert "dismissed by `contextbot`" in new_content(closed)["body"]
        assert f"Message: {HARMLESS}" in new_content(closed)["body"]
    finally:
        await runner.stop()


# ------------------------------------------------------------------------------------------ 13 + 14: commands


async def test_commands_sent_as_replies_with_a_legacy_fallback_are_answered(synapse, people, app, bot_account):
    runner = BotRunner(synapse, bot_account, app, allowed_inviters=(people.alice.user_id,))
    bot = await runner.start()
    try:
        room = await make_room(people, bot.user_id)
        await set_mode(app, room, ChannelMode.LOG, bot.user_id)
        src = await people.member.say(room, ASSERT_NATO)
        # What clients before spec v1.13 send: the quoted original in body and an <mx-reply> in formatted_body.
        quote = f"<mx-reply><blockquote><a href=\"{permalink(room, src)}\">In reply to</a> {ASSERT_NATO}</blockquote></mx-reply>"
        ask = await people.other.say(
            room, f"> <{people.member.user_id}> {ASSERT_NATO}\n\n!cb check",
            format="org.matrix.custom.html", formatted_body=quote + "!cb check",
            **{"m.relates_to": {"m.in_reply_to": {"event_id": src}}})
        ans = content(await people.alice.wait_for(bot_reply_to(bot.user_id, room, ask), "the check-by-reply answer"))
        assert ans["body"].startswith("Closest talking point: ") and "(nato-expansion-provoked)" in ans["body"]
        assert await app.service.incidents.incidents_for_message("matrix", room, ask) == []

        # The English summary says what the bot would do, without the detector's internal reason.
        ask = await people.member.say(room, "!cb check hello there, how are you")
        ans = content(await people.alice.wait_for(bot_reply_to(bot.user_id, room, ask), "the check answer"))
        assert ans["body"] == "No known talking point found."
    finally:
        await runner.stop()


async def test_incidents_are_paged(synapse, people, app, bot_account):
    runner = BotRunner(synapse, bot_account, app, allowed_inviters=(people.alice.user_id,))
    bot = await runner.start()
    try:
        room = await make_room(people, bot.user_id)
        t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
        for n in range(23):
            await app.service.incidents.record_incident(new_incident(
                platform="matrix", server_id="localhost", channel_id=room, message_id=f"$m{n}",
                message_link=permalink(room, f"$m{n}"), author_id=people.member.user_id, content=f"message {n}",
                talking_point_id="us-biolabs", score=0.9, match_score=0.8, explanation_json="{}",
                created_at=t0 + timedelta(minutes=n)), timedelta(0))

        ask = await people.mod.say(room, "!cb incidents")
        page1 = content(await people.alice.wait_for(bot_reply_to(bot.user_id, room, ask), "page 1"))["body"]
        assert "1–10 of 23 (newest first), page 1 of 3" in page1 and "message 22" in page1
        assert page1.endswith("Next page: !cb incidents open 2")
        ask = await people.mod.say(room, "!cb incidents all 3")
        page3 = content(await people.alice.wait_for(bot_reply_to(bot.user_id, room, ask), "page 3"))["body"]
        assert "21–23 of 23 (newest first), page 3 of 3" in page3
        assert [f"message {n}" in page3 for n in (0, 1, 2, 3)] == [True, True, True, False]
        assert "Next page" not in page3
        ask = await people.mod.say(room, "!cb incidents --page 2")
        page2 = content(await people.alice.wait_for(bot_reply_to(bot.user_id, room, ask), "page 2"))["body"]
        assert "11–20 of 23" in page2 and "message 12" in page2 and "message 22" not in page2
    finally:
        await runner.stop()


# ------------------------------------------------------------------------------------------ 15 + 14: invites, logs


async def test_without_allowed_inviters_every_invite_is_refused_and_logged(synapse, people, app, bot_account, caplog):
    caplog.set_level(logging.INFO, logger="bot.matrix_adapter")
    runner = BotRunner(synapse, bot_account, app)  # allowed_inviters left empty
    bot = await runner.start()
    try:
        assert f"running as {bot.user_id}" in caplog.text
        assert "allowed_inviters is empty, so every invite is refused" in caplog.text
        # alice is on the bot's own homeserver: that no longer counts as permission
        room = await people.alice.create_room(invite=(bot.user_id,))
        await people.alice.wait_for(membership(room, bot.user_id, "leave"), "the bot to refuse the invite")
        assert not people.alice.find(membership(room, bot.user_id, "join"))
        assert f"refused the invite to {room} from {people.alice.user_id}" in caplog.text
    finally:
        await runner.stop()


async def test_a_normal_run_says_who_it_runs_as_rooms_and_refused_invites(synapse, people, bot_account, accounts,
                                                                          tmp_path):
    """``python -m bot run matrix`` as an operator starts it: its INFO lines reach stderr."""
    cfg = tmp_path / "contextbot.toml"
    cfg.write_text(
        f'[matrix]\nhomeserver = "{synapse.url}"\nuser_id = "{bot_account.user_id}"\n'
        f'allowed_inviters = ["{people.alice.user_id}"]\n'
        f'[storage]\ndatabase = "{tmp_path / "bot.db"}"\n[detector]\nencoder_process = false\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("MATRIX_ACCESS_TOKEN", "CONTEXTBOT_CONFIG")}
    env["MATRIX_PASSWORD"] = bot_account.password
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(cfg), "run", "matrix", cwd=str(ROOT), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    lines: list[str] = []

    async def until(needle: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(needle in line for line in lines):
            remaining = deadline - time.monotonic()
            assert remaining > 0 and proc.returncode is None, f"no {needle!r} in the bot's log:\n" + "".join(lines)
            with contextlib.suppress(asyncio.TimeoutError):
                raw = await asyncio.wait_for(proc.stderr.readline(), remaining)
                if not raw:
                    await proc.wait()
                lines.append(raw.decode("utf-8", "replace"))

    outsider = await Member(synapse, accounts["outsider"]).start()
    try:
        await until(f"running as {bot_account.user_id}")
        await until("accepting invites from " + people.alice.user_id)
        await until("in 0 room(s)")
        refused = await outsider.create_room(invite=(bot_account.user_id,))
        await until(f"refused the invite to {refused} from {outsider.user_id}")
        room = await people.alice.create_room(invite=(bot_account.user_id,), name="Ukraine chat")
        await until(f"joined {room} (invited by {people.alice.user_id})")
        assert not [line for line in lines if " nio." in line], "matrix-nio's per-event INFO lines flood the log"
    finally:
        await outsider.close()
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
