"""SqliteAlertRepository (migration 0005): which alert a new incident updates, and finding alerts to edit."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.core.models import Action, IncidentStatus, Stance
from bot.core.ports import NewIncident
from bot.storage import SqliteIncidentRepository, open_database
from bot.storage.alerts import SqliteAlertRepository

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def db(database_target):
    conn = await open_database(database_target)
    yield conn
    await conn.close()


async def incident(incidents, message_id: str, author: str = "a", channel: str = "c1", tp: str = "tp1"):
    row, _ = await incidents.record_incident(NewIncident(
        platform="discord", server_id="s", channel_id=channel, message_id=message_id, message_link="",
        author_id=author, content=f"text {message_id}", talking_point_id=tp, stance=Stance.ASSERT, score=0.9,
        match_score=0.9, action=Action.REVIEW, explanation_json="{}", created_at=T0), timedelta(hours=24))
    return row


async def test_fold_target_and_budget_queries(db):
    clock = Clock()
    incidents, alerts = SqliteIncidentRepository(db), SqliteAlertRepository(db, clock=clock)
    first = await incident(incidents, "m1")
    alert = await alerts.record("discord", "s", "modlog", "900", incident_id=first.id, group_id=first.group_id,
                                talking_point_id="tp1", source_channel_id="c1")
    window = T0 - timedelta(minutes=30)
    cases = [  # (group, talking point, channel, since) -> folds into the alert?
        ((first.group_id, "tp1", "c1", window), True),   # same group
        ((9999, "tp1", "c1", window), True),             # same point and channel within the window
        ((9999, "tp1", "c2", window), False),            # another channel
        ((9999, "tp2", "c1", window), False),            # another point
        ((first.group_id, "tp2", "c9", window), True),   # same group, wherever it is
        ((9999, "tp1", "c1", T0 + timedelta(seconds=1)), False),  # the window has passed
    ]
    for (group, tp, channel, since), folds in cases:
        target = await alerts.fold_target("discord", "s", group, tp, channel, since)
        assert (target is not None and target.id == alert.id) is folds, (group, tp, channel, since)
    assert await alerts.count_since("discord", "s", "c1", T0 - timedelta(hours=1)) == 1
    assert await alerts.count_since("discord", "s", "c2", T0 - timedelta(hours=1)) == 0

    second = await incident(incidents, "m2", author="b")
    clock.now = T0 + timedelta(minutes=5)
    updated = await alerts.add_hit(alert.id, second.id)
    assert updated.last_incident_id == second.id and updated.updated_at == clock.now
    summary = await alerts.summary(alert.id)
    assert (summary.hits, summary.accounts) == (2, 2)
    assert [a.id for a in await alerts.alerts_for_incidents([second.id])] == [alert.id]

    await incidents.resolve_incident(first.id, IncidentStatus.CONFIRMED, "mod", None)  # a verdict on the alert
    assert await alerts.fold_target("discord", "s", first.group_id, "tp1", "c1", window) is None


async def test_alerts_with_purged_excerpts_are_found_once(db):
    incidents, alerts = SqliteIncidentRepository(db), SqliteAlertRepository(db)
    first = await incident(incidents, "m1")
    alert = await alerts.record("discord", "s", "modlog", "900", incident_id=first.id, group_id=first.group_id,
                                talking_point_id="tp1", source_channel_id="c1")
    assert await alerts.with_purged_excerpts("discord") == []
    await incidents.purge_message_content("discord", "c1", "m1")
    assert [a.id for a in await alerts.with_purged_excerpts("discord")] == [alert.id]
    assert await alerts.with_purged_excerpts("matrix") == []
    await alerts.mark_content_removed(alert.id)
    assert await alerts.with_purged_excerpts("discord") == []
