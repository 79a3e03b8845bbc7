"""End to end: the real discord.py client against the fake Discord, the real IncidentService, the real
Detector (ukraine-war pack) and real SQLite storage. These are the acceptance tests of issue #3."""

from __future__ import annotations

import json

import pytest

from bot.core.models import IncidentStatus
from bot.discord_adapter.components import verdict_custom_id
from discord_helpers import delete, edit, rows, say
from fake_discord import CommandNotAvailable, opt, sub

ASSERTION = "NATO expansion caused this war, period. Russia had no choice but to invade Ukraine."
ASSERTION_2 = "NATO caused this war by expanding east, Russia had no choice but to invade Ukraine."
REFUTATION = "No, NATO didn't force Russia to invade anyone. Countries asked to join because they feared Russia."
INNOCENT = "Does anyone have a good recipe for borscht? Mine always turns out too sour."


def test_the_real_detector_reads_the_test_texts_as_intended(real_detector):
    """If this fails, the detector changed: pick other texts rather than weakening the tests below."""
    for text in (ASSERTION, ASSERTION_2):
        d = real_detector.check(text)
        assert (d.action.value, d.talking_point_id, d.is_incident) == ("reply", "nato-expansion-provoked", True), text
    d = real_detector.check(REFUTATION)
    assert d.action.value == "none" and not d.is_incident, d
    assert real_detector.check(INNOCENT).talking_point_id is None


def assert_no_pings(payload: dict) -> None:
    """What every message the bot sends must look like."""
    assert payload["allowed_mentions"]["parse"] == []
    if payload.get("message_reference"):
        assert payload["allowed_mentions"]["replied_user"] is False  # the author of the message is not notified
    for key in ("users", "roles"):
        assert not payload["allowed_mentions"].get(key)
    text = json.dumps(payload, ensure_ascii=False)
    assert "@everyone" not in text and "@here" not in text


def card_posts(world):
    return [p for p in world.fake.posted(world.general) if p.get("message_reference")]


async def test_assertion_in_reply_channel_gets_a_card_without_pings(bot, world, db):
    msg, outcome = await say(bot, world, world.general, ASSERTION)
    assert outcome is not None and outcome.card is not None, outcome and outcome.decision.explanation.reason

    [payload] = world.fake.posted(world.general)
    assert_no_pings(payload)
    assert int(payload["message_reference"]["message_id"]) == int(msg["id"])
    assert not payload.get("content")
    [embed] = payload["embeds"]
    assert embed["title"] == "ℹ️ Did NATO expansion force Russia to invade Ukraine?"
    sources = next(f["value"] for f in embed["fields"] if f["name"] == "Sources")
    assert "](https://euvsdisinfo.eu/report/nato-expands-eastwards-to-threaten-and-provoke-russia)" in sources
    assert "Why am I seeing this?" in embed["footer"]["text"] and "v2026" in embed["footer"]["text"]
    custom_ids = [c["custom_id"] for row in payload["components"] for c in row["components"]]
    assert custom_ids == ["cb:fb:y", "cb:fb:n"]

    [card] = await rows(db, "SELECT source_message_id, talking_point_id FROM card_posts")
    assert card == (msg["id"], "nato-expansion-provoked")
    assert await rows(db, "SELECT message_id, status FROM incidents") == [(msg["id"], "open")]


async def test_refutation_gets_no_reply(bot, world, db):
    _, outcome = await say(bot, world, world.general, REFUTATION)
    assert outcome is not None and outcome.card is None
    assert world.fake.posted() == []
    assert await rows(db, "SELECT id FROM incidents") == []


async def test_second_assertion_within_cooldown_is_logged_and_suppressed(bot, world, db):
    await say(bot, world, world.general, ASSERTION, world.alice)
    msg2, outcome = await say(bot, world, world.general, ASSERTION_2, world.bob)
    assert outcome is not None and outcome.card is None and outcome.suppressed, outcome
    assert len(world.fake.posted(world.general)) == 1
    assert len(await rows(db, "SELECT id FROM incidents")) == 2
    [suppressed] = await rows(db, "SELECT source_message_id, reason FROM suppressed_replies")
    assert suppressed[0] == msg2["id"] and "cooldown" in suppressed[1]


async def test_review_channel_alerts_moderators_and_false_positive_button(bot, world, db):
    msg, outcome = await say(bot, world, world.review, ASSERTION)
    assert outcome is not None and outcome.card is None and outcome.alert
    assert world.fake.posted(world.review) == []

    [alert] = world.fake.bot_messages(world.modlog)
    incident_id = outcome.incident.id
    buttons = {c.get("label"): c.get("custom_id") for row in alert["components"] for c in row["components"]}
    assert buttons["Confirm"] == verdict_custom_id(incident_id, IncidentStatus.CONFIRMED)
    assert buttons["False positive"] == verdict_custom_id(incident_id, IncidentStatus.FALSE_POSITIVE)
    assert buttons["Dismiss"] == verdict_custom_id(incident_id, IncidentStatus.DISMISSED)
    assert_no_pings(world.fake.posted(world.modlog)[0])

    # a member without Manage Messages is refused, ephemerally; nothing changes
    refused = await world.fake.wait_for_answer(
        await world.fake.click_button(alert, buttons["False positive"], user=world.bob))
    assert refused.ephemeral() and "Manage Messages" in refused.answer()["content"]
    assert await rows(db, "SELECT status FROM incidents") == [("open",)]

    clicked = await world.fake.wait_for_answer(
        await world.fake.click_button(alert, buttons["False positive"], user=world.mod))
    assert clicked.callback_type == 6  # acknowledged at once; then the alert is edited: verdict shown, buttons gone
    assert alert["components"] == [] and "Verdict" in json.dumps(alert["embeds"])
    assert await rows(db, "SELECT status, reviewer FROM incidents") == [("false_positive", f"discord:{world.mod['id']}")]


async def test_incidents_resolve_requires_manage_messages(bot, world, db):
    _, outcome = await say(bot, world, world.review, ASSERTION)
    options = [sub("resolve", opt("id", outcome.incident.id), opt("verdict", "confirmed"))]
    with pytest.raises(CommandNotAvailable):  # hidden from members (default_member_permissions)
        await world.fake.slash_command("incidents", options, user=world.bob, channel=world.review)
    world.fake.command_overrides["incidents"] = {world.guild["id"]}  # an admin showed it to @everyone: still refused
    answer = await world.fake.wait_for_answer(await world.fake.slash_command(
        "incidents", options, user=world.bob, channel=world.review))
    assert answer.ephemeral()
    assert "Manage Messages" in answer.answer()["content"]
    assert await rows(db, "SELECT status FROM incidents") == [("open",)]

    answer = await world.fake.wait_for_answer(await world.fake.slash_command(
        "incidents", options, user=world.mod, channel=world.review))
    assert answer.ephemeral()
    assert await rows(db, "SELECT status FROM incidents") == [("confirmed",)]


async def test_a_ukrainian_card_has_ukrainian_buttons_and_each_voter_is_answered_in_their_language(bot, world, db):
    await say(bot, world, world.general, "Майдан був переворотом, який організували американці, а не революцією.")
    [card] = world.fake.bot_messages(world.general)
    assert card["embeds"][0]["title"] == "ℹ️ Чи був Майдан 2014 року державним переворотом, організованим США?"
    assert [c["label"] for row in card["components"] for c in row["components"]] == ["Корисно", "Не по темі"]

    vote = await world.fake.wait_for_answer(await world.fake.click_button(card, "cb:fb:n", user=world.bob, locale="de"))
    assert vote.ephemeral() and vote.answer()["content"].startswith("Danke, notiert: nicht relevant.")
    again = await world.fake.wait_for_answer(await world.fake.click_button(card, "cb:fb:n", user=world.bob, locale="ru"))
    assert again.answer()["content"] == "Ваш голос за эту карточку уже учтён."
    assert await rows(db, "SELECT user_id, helpful FROM card_feedback") == [(world.bob["id"], 0)]


async def test_check_command_answers_ephemerally(bot, world, db):
    answer = await world.fake.wait_for_answer(await world.fake.slash_command(
        "check", [opt("text", ASSERTION)], user=world.bob, channel=world.general))
    assert answer.callback_type == 5 and answer.ephemeral()  # deferred privately, then a private follow-up
    embeds = answer.answer()["embeds"]
    assert "nato-expansion-provoked" in json.dumps(embeds)
    assert embeds[-1]["title"] == "ℹ️ Did NATO expansion force Russia to invade Ukraine?"
    assert world.fake.posted() == []  # nothing in the channel
    assert await rows(db, "SELECT id FROM incidents") == []  # and nothing logged


async def test_check_and_context_answer_in_the_members_discord_language(bot, world, db):
    ukrainian = "Розширення НАТО змусило Росію діяти, у неї не було вибору."
    answer = await world.fake.wait_for_answer(await world.fake.slash_command(
        "check", [opt("text", ukrainian)], user=world.bob, channel=world.general, locale="uk"))
    verdict, card = answer.answer()["embeds"]
    assert verdict["title"] == "Схоже на: Чи змусило розширення НАТО Росію напасти на Україну?"
    assert card["title"] == "ℹ️ Чи змусило розширення НАТО Росію напасти на Україну?"
    assert [f["name"] for f in verdict["fields"]] == ["Наратив", "Позиція", "Оцінка"]
    assert verdict["footer"]["text"].startswith("Мова: uk · ") and "description" not in verdict  # no English reason

    # a German member checks the same text: the answer in German, the card still in the text's language
    answer = await world.fake.wait_for_answer(await world.fake.slash_command(
        "check", [opt("text", ukrainian)], user=world.bob, channel=world.general, locale="de"))
    verdict, card = answer.answer()["embeds"]
    assert verdict["title"] == "Ähnelt: Hat die NATO-Erweiterung Russland zum Einmarsch in die Ukraine gezwungen?"
    assert [f["name"] for f in verdict["fields"]][0] == "Narrativ"
    assert card["title"] == "ℹ️ Чи змусило розширення НАТО Росію напасти на Україну?"
    assert any(f["name"] == "Джерела" for f in card["fields"])

    unknown = await world.fake.wait_for_answer(await world.fake.slash_command(
        "context", [opt("topic", "qwertyuiop")], user=world.alice, channel=world.general, locale="ru"))
    assert unknown.ephemeral() and unknown.answer()["content"].startswith("Такого известного тезиса нет.")
    assert await rows(db, "SELECT id FROM incidents") == []


async def test_feedback_button_one_vote_per_member(bot, world, db):
    await say(bot, world, world.general, ASSERTION)
    [card] = world.fake.bot_messages(world.general)

    first = await world.fake.wait_for_answer(await world.fake.click_button(card, "cb:fb:y", user=world.bob))
    assert first.ephemeral()
    assert await rows(db, "SELECT user_id, helpful FROM card_feedback") == [(world.bob["id"], 1)]

    again = await world.fake.wait_for_answer(await world.fake.click_button(card, "cb:fb:y", user=world.bob))
    assert again.ephemeral() and "already" in again.answer()["content"]
    assert await rows(db, "SELECT user_id, helpful FROM card_feedback") == [(world.bob["id"], 1)]

    await world.fake.wait_for_answer(await world.fake.click_button(card, "cb:fb:n", user=world.alice))
    assert len(await rows(db, "SELECT user_id FROM card_feedback")) == 2


async def test_edit_of_answered_message_gets_no_second_card(bot, world, db):
    msg, _ = await say(bot, world, world.general, ASSERTION)
    assert len(card_posts(world)) == 1
    outcome = await edit(bot, world, msg, ASSERTION + " Everyone knows it.")
    assert outcome is not None and outcome.card is None
    assert len(card_posts(world)) == 1
    assert len(await rows(db, "SELECT id FROM incidents")) == 1
    assert len(await rows(db, "SELECT id FROM card_posts")) == 1


async def test_edit_that_drops_the_claim_withdraws_the_card(bot, world, db):
    msg, _ = await say(bot, world, world.general, ASSERTION)
    [card] = world.fake.bot_messages(world.general)
    outcome = await edit(bot, world, msg, INNOCENT)
    assert outcome is not None and outcome.withdraw is not None
    notice = world.fake.messages[int(card["id"])]
    assert notice["content"].startswith("This context card was withdrawn")
    assert notice["embeds"] == [] and notice.get("components", []) == []  # no stale card, no buttons
    assert await rows(db, "SELECT retracted FROM card_posts") == [(1,)]
    # the member edits the claim back in: no second card (one card per message, as before)
    outcome = await edit(bot, world, msg, ASSERTION)
    assert outcome is not None and outcome.card is None
    assert len(await rows(db, "SELECT id FROM card_posts")) == 1


async def test_edit_into_an_assertion_is_rechecked(bot, world, db):
    msg, outcome = await say(bot, world, world.general, INNOCENT)
    assert outcome is not None and outcome.card is None
    outcome = await edit(bot, world, msg, ASSERTION)
    assert outcome is not None and outcome.card is not None
    assert len(card_posts(world)) == 1


async def test_delete_purges_content_and_takes_the_card_down(bot, world, db):
    msg, _ = await say(bot, world, world.general, ASSERTION)
    [card] = world.fake.bot_messages(world.general)
    assert await rows(db, "SELECT content FROM incidents") == [(ASSERTION,)]
    await delete(bot, world, msg)
    assert await rows(db, "SELECT content FROM incidents") == [(None,)]
    assert await rows(db, "SELECT retracted FROM card_posts") == [(1,)]
    assert int(card["id"]) not in world.fake.messages  # the card no longer answers a message that is gone


async def test_gateway_resume_does_not_double_reply(bot, world, db):
    await say(bot, world, world.general, ASSERTION)
    assert len(card_posts(world)) == 1

    await world.fake.drop_connection(4000)
    await world.fake.wait_for_resume()
    assert world.fake.identifies == 1 and world.fake.resumes == 1  # resumed, not re-identified
    assert world.fake.connection_paths == ["/gateway", "/resume"]  # at READY's resume_gateway_url

    # the connection works again, and nothing was answered twice
    _, outcome = await say(bot, world, world.general, REFUTATION, world.bob)
    assert outcome is not None and outcome.card is None
    assert len(card_posts(world)) == 1
    assert len(await rows(db, "SELECT id FROM card_posts")) == 1


async def test_events_missed_while_disconnected_are_replayed_once(bot, world, db):
    await world.fake.drop_connection(4000)
    msg = await world.fake.user_message(world.general, ASSERTION, world.alice, dispatch=False)
    waiter = bot.wait_for("message_handled", check=lambda m, o: str(m.id) == msg["id"], timeout=30)
    await world.fake.dispatch("MESSAGE_CREATE", msg)  # buffered: the socket is down
    _, outcome = await waiter
    assert outcome is not None and outcome.card is not None
    assert world.fake.resumes == 1
    # an at-least-once redelivery of the same MESSAGE_CREATE must not produce a second card
    seq = max(e["s"] for e in world.fake._current.events if e["t"] == "MESSAGE_CREATE")
    waiter = bot.wait_for("message_handled", check=lambda m, o: str(m.id) == msg["id"], timeout=30)
    await world.fake.redeliver(seq)
    _, outcome = await waiter
    assert outcome is not None and outcome.card is None
    assert len(card_posts(world)) == 1


@pytest.mark.parametrize("channel_name", ["general", "review"])
async def test_hostile_message_does_not_crash_or_ping(bot, world, db, channel_name):
    channel = getattr(world, channel_name)
    zw = "\u200b\u200c\u200d\u2060\ufeff"
    hostile = ("@everyone @here <@&123> " + "N\u200bA\u200dTO expansion caused this war, Russia had no choice. " + zw) * 40
    hostile += "x" * (100 * 1024 - len(hostile))
    msg, outcome = await say(bot, world, channel, hostile, world.bob,
                             mention_everyone=True, mentions=[world.alice])
    assert outcome is not None  # handled, no exception in the pipeline
    for payload in world.fake.posted():
        assert_no_pings(payload)
    stored = await rows(db, "SELECT content FROM incidents")
    assert all(len(c) <= 8000 for (c,) in stored)
    # the bot is still healthy afterwards
    _, outcome = await say(bot, world, world.general, INNOCENT, world.alice)
    assert outcome is not None and outcome.card is None
