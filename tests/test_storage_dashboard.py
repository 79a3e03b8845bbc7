"""The dashboard repository (exemplars, point policies, audit, sessions, statistics) on both storage backends."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.core.models import Action, IncidentStatus
from bot.core.ports import CardPost
from bot.storage import SqliteDashboardRepository, SqliteIncidentRepository, open_database
from incident_factory import new_incident

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
async def db(database_target):
    conn = await open_database(database_target)
    yield conn
    await conn.close()


@pytest.fixture
def repos(db):
    return SqliteIncidentRepository(db, clock=lambda: NOW), SqliteDashboardRepository(db, clock=lambda: NOW)


async def add(incidents, message_id, *, server="g1", tp="tp1", action=Action.REPLY, content="text"):
    inc, _ = await incidents.record_incident(new_incident(
        server_id=server, message_id=message_id, message_link="", author_id="a1", content=content,
        talking_point_id=tp, score=0.9, match_score=0.8, action=action, explanation_json="{}",
        created_at=NOW - timedelta(hours=1)), timedelta(0))
    return inc


async def test_sessions_login_logout_relogin(repos):
    _, dash = repos
    await dash.create_session("h1", "mod", "10.0.0.1", NOW + timedelta(hours=1))
    assert await dash.session_active("h1")
    await dash.revoke_session("h1")
    assert not await dash.session_active("h1")
    await dash.create_session("h1", "mod", "10.0.0.2", NOW + timedelta(hours=1))  # same id again: active anew
    assert await dash.session_active("h1")
    assert await dash.logged_in_from("mod", "10.0.0.2")
    assert not await dash.logged_in_from("mod", "10.9.9.9")


async def test_statistics_count_by_status_and_action(repos):
    incidents, dash = repos
    a = await add(incidents, "m1")
    await add(incidents, "m2", action=Action.REVIEW)
    await add(incidents, "m3", tp="tp2")
    await incidents.resolve_incident(a.id, IncidentStatus.CONFIRMED, "mod", None)
    totals = await dash.totals(None)
    assert (totals.total, totals.open, totals.confirmed, totals.reply, totals.review, totals.reply_confirmed) == (
        3, 2, 1, 2, 1, 1)
    stats = await dash.point_stats(["discord:g1"])
    assert {tp: s.total for tp, s in stats.items()} == {"tp1": 2, "tp2": 1}
    assert (await dash.totals(())).total == 0  # empty scope matches nothing
    days = await dash.daily_counts(None, NOW - timedelta(days=1))
    assert sorted(days) == [(days[0][0], "tp1", 2), (days[0][0], "tp2", 1)]


async def test_card_stats_sum_feedback(repos):
    incidents, dash = repos
    inc = await add(incidents, "m1")
    post = await incidents.record_card_post(CardPost(
        None, "discord", "g1", "c1", "", "m1", "p1", "tp1", "a1", inc.id, "en", "1", NOW))
    await incidents.record_feedback(post.id, "u1", True)
    await incidents.record_feedback(post.id, "u2", False)
    await incidents.record_feedback(post.id, "u3", True)
    stats = await dash.card_stats(None)
    assert stats["tp1"]["cards"] == 1
    assert (stats["tp1"]["helpful"], stats["tp1"]["not_relevant"]) == (2, 1)


async def test_exemplar_replace_keeps_vector_and_purge_blanks_text(repos):
    incidents, dash = repos
    inc = await add(incidents, "m1")
    vector = bytes(range(256)) * 2
    args = dict(platform="discord", server_id="g1", talking_point_id="tp1", text="the words", lang="en",
                incident_id=inc.id, created_by="mod", embedding=vector)
    new, retired = await dash.replace_incident_exemplar(positive=True, **args)
    assert retired == [] and new is not None and new.embedding == vector and new.active
    again, retired = await dash.replace_incident_exemplar(positive=False, **args)
    assert [r.id for r in retired] == [new.id] and again.positive is False
    await incidents.purge_message_content("discord", "c1", "m1")
    kept = await dash.get_exemplar(again.id)
    assert kept.text == "" and kept.text_purged_at is not None and kept.embedding == vector


async def test_point_policies_upsert_and_audit(repos):
    _, dash = repos
    await dash.save_point_policy("discord", "g1", "tp1", 0.7, False, "admin")
    rec = await dash.save_point_policy("discord", "g1", "tp1", None, True, "admin2")
    assert (rec.reply_threshold, rec.review_only, rec.updated_by) == (None, True, "admin2")
    assert len(await dash.list_point_policies("tp1")) == 1
    assert await dash.delete_point_policy("discord", "g1", "tp1") is True
    assert await dash.delete_point_policy("discord", "g1", "tp1") is False
    await dash.record_audit("admin", "resolve", incident_id=7, platform="discord", server_id="g1", detail={"x": 1})
    entries = await dash.list_audit(["discord:g1"])
    assert [(e.actor, e.action, e.incident_id) for e in entries] == [("admin", "resolve", 7)]
