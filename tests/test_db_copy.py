"""`python -m bot db copy`: every table SQLite -> PostgreSQL (and back), counts checked, non-empty target refused."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest

from bot.cli import main
from bot.core.models import Action, ChannelMode, IncidentStatus
from bot.core.ports import CardPost
from bot.storage import SqliteDashboardRepository, SqliteIncidentRepository, SqliteSettingsRepository, open_database
from bot.storage.copy import CopyError, copy_database
from incident_factory import new_incident

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


async def seed(target) -> dict:
    db = await open_database(target)
    try:
        inc = SqliteIncidentRepository(db, clock=lambda: NOW)
        dash = SqliteDashboardRepository(db, clock=lambda: NOW)
        first = None
        for n in range(7):
            i, _ = await inc.record_incident(new_incident(
                message_id=f"m{n}", message_link="", author_id="a1", content=f"text \x00 {n} 🙂",
                talking_point_id="tp1", score=0.9, match_score=0.8, action=Action.REPLY, explanation_json="{}",
                created_at=NOW + timedelta(minutes=n)), timedelta(hours=1))
            first = first or i
        await inc.resolve_incident(first.id, IncidentStatus.CONFIRMED, "mod", "ok")
        post = await inc.record_card_post(CardPost(0, "discord", "g1", "c1", "", "m0", "p0", "tp1", "a1", first.id,
                                                   "en", "1", NOW))
        await inc.record_feedback(post.id, "u1", True)
        await dash.replace_incident_exemplar(platform="discord", server_id="g1", talking_point_id="tp1", text="t",
                                             lang="en", positive=True, incident_id=first.id, created_by="mod",
                                             embedding=b"\x00\x01\xff" * 10)
        await SqliteSettingsRepository(db).set_channel_mode("discord", "g1", "c1", ChannelMode.REPLY)
        await dash.create_session("h", "mod", "1.2.3.4", NOW + timedelta(days=1))
        return {"incident": await inc.get_incident(first.id), "exemplars": await dash.active_exemplars()}
    finally:
        await db.close()


async def read(target) -> dict:
    db = await open_database(target)
    try:
        inc = SqliteIncidentRepository(db)
        return {"incident": await inc.get_incident(1), "exemplars": await SqliteDashboardRepository(db).active_exemplars()}
    finally:
        await db.close()


async def test_sqlite_to_postgresql_and_back(tmp_path, pg_dsn):
    src = tmp_path / "src.db"
    before = await seed(src)
    report = await copy_database(src, pg_dsn)
    assert report.counts["incidents"] == 7 and report.counts["card_feedback"] == 1
    assert report.counts["server_exemplars"] == 1 and report.counts["dashboard_sessions"] == 1
    assert await read(pg_dsn) == before  # same rows, ids, grouping, NUL and emoji text, vector bytes
    assert before["incident"].hit_count == 7

    db = await open_database(pg_dsn)  # ids continue after the copied ones
    try:
        new, created = await SqliteIncidentRepository(db).record_incident(new_incident(
            server_id="g2", message_id="new", message_link="", author_id="a9", content="x", talking_point_id="tp1",
            score=0.9, match_score=0.8, action=Action.REPLY, explanation_json="{}", created_at=NOW),
            timedelta(0))
        assert created and new.id == 8
    finally:
        await db.close()

    with pytest.raises(CopyError, match="not empty"):
        await copy_database(src, pg_dsn)

    back = tmp_path / "back.db"
    await copy_database(pg_dsn, back)
    assert (await read(back))["exemplars"] == before["exemplars"]


async def test_cli_copy_reports_counts_and_refuses_a_full_target(tmp_path, pg_dsn):
    src = tmp_path / "src.db"
    await seed(src)
    out = io.StringIO()
    import asyncio

    code = await asyncio.to_thread(main, ["db", "copy", "--from", str(src), "--to", pg_dsn], out)
    assert code == 0
    assert "row counts match" in out.getvalue() and "incidents" in out.getvalue()
    code = await asyncio.to_thread(main, ["db", "copy", "--from", str(src), "--to", pg_dsn], io.StringIO())
    assert code == 2


async def test_incidents_cli_reads_a_postgresql_url(tmp_path, pg_dsn):
    import asyncio

    await seed(pg_dsn)
    out = io.StringIO()
    code = await asyncio.to_thread(main, ["incidents", "list", "--db", pg_dsn], out)
    assert code == 0
    assert out.getvalue().count("tp1") == 7
