"""The incident service with the real detector and real SQLite: modes, budget, edits, deletes, questions."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta, timezone

import pytest

from bot.app import build_app
from bot.config import Config
from bot.core.models import Action, ChannelMode, IncomingMessage, IncidentStatus
from bot.core.ports import IncidentFilter

ASSERT_1 = "Zelensky is illegitimate, his term ended and he cancelled the elections."
ASSERT_2 = "Zelensky has no mandate any more, his term ran out and there were no elections."
REFUTE = "NATO didn't provoke anything. That story is a myth pushed by Russian state TV."
QUESTION = "Is it true that the US has secret bioweapons labs in Ukraine?"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def app(tmp_path, detector):
    app = await build_app(Config(), detector=detector, database=tmp_path / "svc.db")
    app.service.clock = Clock()
    yield app
    await app.close()


_ids = itertools.count(1)


def msg(text: str, *, channel: str = "c1", author: str = "u1", mid: str | None = None, **kw) -> IncomingMessage:
    return IncomingMessage("test", "g1", channel, mid or str(next(_ids)), author, text, **kw)


async def test_new_server_defaults_to_review_mode(app):
    out = await app.service.handle_message(msg(ASSERT_1))
    assert out.mode is ChannelMode.REVIEW
    assert out.card is None and out.incident is not None and out.alert


async def test_reply_mode_posts_a_card_and_cooldown_holds_the_next_one_back(app):
    svc = app.service
    await svc.settings.set_channel_mode("test", "g1", "c1", ChannelMode.REPLY)
    first_msg = msg(ASSERT_1)
    first = await svc.handle_message(first_msg)
    assert first.decision.action is Action.REPLY and first.card is not None
    assert first.card.talking_point_id == "zelensky-illegitimate" and first.card.sources
    await svc.card_posted(first_msg, first, "bot-1")

    svc.clock.now += timedelta(minutes=5)
    second = await svc.handle_message(msg(ASSERT_1 + " Wake up.", author="u2"))
    assert second.card is None and "cooldown" in (second.suppressed or "")
    assert second.incident is not None  # still logged
    rows = await app.db.execute_fetchall("SELECT reason FROM suppressed_replies")
    assert len(rows) == 1 and "cooldown" in rows[0][0]

    svc.clock.now += timedelta(minutes=31)
    third = await svc.handle_message(msg(ASSERT_1 + " Again.", author="u3"))
    assert third.card is not None


async def test_refutation_in_reply_mode_gets_nothing(app):
    await app.service.settings.set_channel_mode("test", "g1", "c1", ChannelMode.REPLY)
    out = await app.service.handle_message(msg(REFUTE))
    assert out.card is None and out.decision.action is not Action.REPLY


async def test_question_may_be_answered_but_is_never_an_incident(app):
    await app.service.settings.set_channel_mode("test", "g1", "c1", ChannelMode.REPLY)
    out = await app.service.handle_message(msg(QUESTION))
    assert out.incident is None
    assert await app.service.incidents.count_incidents(IncidentFilter()) == 0
    assert out.decision.answer_question and out.card is not None and out.is_answer


async def test_an_answered_question_is_not_answered_twice(app):
    svc = app.service
    await svc.settings.set_channel_mode("test", "g1", "c1", ChannelMode.REPLY)
    question = msg(QUESTION, mid="m-q")
    first = await svc.handle_message(question)
    assert first.decision.answer_question and first.card is not None and first.is_answer
    await svc.card_posted(question, first, "bot-q")
    svc.clock.now += timedelta(hours=3)  # past every cooldown: only the card already posted holds it back
    again = await svc.handle_edit(msg(QUESTION + " Anyone?", mid="m-q", is_edit=True))
    assert again.card is None and again.incident is None
    assert await svc.incidents.count_incidents(IncidentFilter()) == 0


async def test_edit_is_rechecked_without_a_second_card_or_incident(app):
    svc = app.service
    await svc.settings.set_channel_mode("test", "g1", "c1", ChannelMode.REPLY)
    original = msg(ASSERT_1, mid="m-edit")
    out = await svc.handle_message(original)
    await svc.card_posted(original, out, "bot-edit")
    edited = msg(ASSERT_2, mid="m-edit", is_edit=True)
    again = await svc.handle_edit(edited)
    assert again.card is None
    assert await svc.incidents.count_incidents(IncidentFilter()) == 1


async def test_delete_purges_the_stored_message(app):
    svc = app.service
    m = msg(ASSERT_1, mid="m-del")
    out = await svc.handle_message(m)
    assert (await svc.incidents.get_incident(out.incident.id)).content == ASSERT_1
    assert await svc.handle_delete("test", "c1", "m-del") == 1
    assert (await svc.incidents.get_incident(out.incident.id)).content is None


async def test_off_and_log_modes(app):
    svc = app.service
    await svc.settings.set_channel_mode("test", "g1", "off", ChannelMode.OFF)
    await svc.settings.set_channel_mode("test", "g1", "log", ChannelMode.LOG)
    off = await svc.handle_message(msg(ASSERT_1, channel="off"))
    assert off.incident is None and off.decision.explanation.reason == "channel mode is off"
    logged = await svc.handle_message(msg(ASSERT_1, channel="log"))
    assert logged.incident is not None and not logged.alert and logged.card is None


async def test_bots_are_ignored(app):
    out = await app.service.handle_message(msg(ASSERT_1, author_is_bot=True))
    assert out.incident is None


async def test_repeat_hits_by_one_author_are_grouped(app):
    svc = app.service
    a = await svc.handle_message(msg(ASSERT_1))
    svc.clock.now += timedelta(hours=1)
    b = await svc.handle_message(msg(ASSERT_2))
    assert b.incident.group_id == a.incident.id
    assert (await svc.incidents.get_incident(a.incident.id)).hit_count == 2


async def test_resolve_and_feedback(app):
    svc = app.service
    await svc.settings.set_channel_mode("test", "g1", "c1", ChannelMode.REPLY)
    m = msg(ASSERT_1)
    out = await svc.handle_message(m)
    post = await svc.card_posted(m, out, "bot-fb")
    assert await svc.record_feedback("test", "bot-fb", "member-1", helpful=True)
    assert not await svc.record_feedback("test", "bot-fb", "member-1", helpful=True)  # one vote per member
    assert await svc.record_feedback("test", "bot-fb", "member-1", helpful=False)  # changed vote
    assert await svc.incidents.feedback_counts(post.id) == (0, 1)
    resolved = await svc.resolve(out.incident.id, IncidentStatus.CONFIRMED, "mod", "clear case")
    assert resolved.status is IncidentStatus.CONFIRMED and resolved.reviewer == "mod"


async def test_hostile_message_is_logged_intact_and_never_crashes(app):
    text = "@everyone <@&123> " + "\u200bBucha was staged " * 6000  # ~110 KB
    out = await app.service.handle_message(msg(text))
    if out.incident is not None:
        stored = await app.service.incidents.get_incident(out.incident.id)
        assert stored.content and len(stored.content) <= 8000
    rows = await app.db.execute_fetchall("PRAGMA integrity_check")
    assert rows[0][0] == "ok"


async def test_built_as_a_running_bot_the_encoder_has_its_own_process(tmp_path):
    """build_app without a detector (as `python -m bot run` does): the encoder runs in a child process, two
    batches may be in flight, decisions are the same, and closing the app stops the child."""
    import os

    from bot.core.encoder_process import ProcessEncoder

    app = await build_app(Config(), database=tmp_path / "run.db")
    try:
        assert isinstance(app.detector.encoder, ProcessEncoder)
        assert app.owned_encoder is app.detector.encoder
        assert app.service.batcher.max_in_flight == 2
        pid = app.detector.encoder.child_pid()
        assert pid is not None and pid != os.getpid()
        await app.service.settings.set_channel_mode("test", "g1", "c1", ChannelMode.REPLY)
        outcomes = await asyncio.gather(*(app.service.handle_message(msg(t)) for t in (ASSERT_1, REFUTE, "gg all")))
        assert [o.decision.talking_point_id for o in outcomes[:2]] == ["zelensky-illegitimate", "nato-expansion-provoked"]
        assert outcomes[0].decision.action is Action.REPLY and outcomes[0].card is not None
        assert outcomes[1].decision.action is Action.NONE and outcomes[1].card is None
        assert outcomes[2].decision.explanation.gated
    finally:
        await app.close()
    with pytest.raises(ProcessLookupError):
        for _ in range(200):  # the child exits once its pipe closes
            os.kill(pid, 0)
            await asyncio.sleep(0.05)


async def test_an_app_given_a_detector_starts_no_encoder_process(app):
    assert app.owned_encoder is None
    assert app.service.batcher.max_in_flight == 1


HARMLESS = "I had lunch with my colleague today"


async def test_edit_into_harmless_text_closes_the_incident_and_withdraws_the_card_and_an_edit_back_reopens(app):
    svc = app.service
    await svc.settings.set_channel_mode("test", "g1", "c1", ChannelMode.REPLY)
    original = msg(ASSERT_1, mid="m-harmless")
    out = await svc.handle_message(original)
    await svc.card_posted(original, out, "bot-harmless")

    edited = await svc.handle_edit(msg(HARMLESS, mid="m-harmless", is_edit=True))
    assert edited.withdraw is not None and edited.withdraw.post_message_id == "bot-harmless"
    [incident] = edited.edited
    assert (incident.id, incident.content, incident.status, incident.reviewer) == (
        out.incident.id, HARMLESS, IncidentStatus.DISMISSED, "contextbot")
    # the card counts until the adapter has taken it down
    assert not (await svc.incidents.card_post_by_post_id("test", "bot-harmless")).retracted
    await svc.withdraw_card(edited.withdraw)
    assert (await svc.incidents.card_post_by_post_id("test", "bot-harmless")).retracted
    assert await app.db.execute_fetchall("SELECT id FROM server_exemplars") == []  # the bot's closing teaches nothing

    # the withdrawn card no longer holds the talking point's cooldown
    other = await svc.handle_message(msg(ASSERT_1 + " Wake up.", author="u2"))
    assert other.card is not None and other.card.talking_point_id == out.card.talking_point_id

    # edited back into the claim: the incident the bot closed is open again, and still no second card
    back = await svc.handle_edit(msg(ASSERT_1, mid="m-harmless", is_edit=True))
    assert back.card is None and back.withdraw is None
    assert [(i.id, i.status, i.content) for i in back.edited] == [(out.incident.id, IncidentStatus.OPEN, ASSERT_1)]


async def test_a_moderators_verdict_survives_an_edit(app):
    svc = app.service
    m = msg(ASSERT_1, mid="m-verdict")
    out = await svc.handle_message(m)
    await svc.resolve(out.incident.id, IncidentStatus.CONFIRMED, "mod", "seen")
    edited = await svc.handle_edit(msg(HARMLESS, mid="m-verdict", is_edit=True))
    [incident] = edited.edited
    assert (incident.status, incident.reviewer, incident.content) == (IncidentStatus.CONFIRMED, "mod", HARMLESS)


async def test_a_deleted_messages_card_is_live_until_withdrawn(app):
    svc = app.service
    await svc.settings.set_channel_mode("test", "g1", "c1", ChannelMode.REPLY)
    m = msg(ASSERT_1, mid="m-gone")
    out = await svc.handle_message(m)
    await svc.card_posted(m, out, "bot-gone")
    await svc.handle_delete("test", "c1", "m-gone")
    post = await svc.live_card("test", "c1", "m-gone")
    assert post is not None and post.post_message_id == "bot-gone"
    await svc.withdraw_card(post)
    assert await svc.live_card("test", "c1", "m-gone") is None
    assert await svc.live_card("test", "c1", "never-carded") is None
