"""The platform-neutral verdict -> exemplar logic (bot.dashboard.learning) with real SQLite storage and a recording
detector, including a detector that can forget a server's exemplars (verdict changes take effect live)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.core.models import Action, IncidentStatus, Stance
from bot.core.ports import NewIncident
from bot.core.detector import PointPolicy
from bot.dashboard.learning import VerdictLearner, clear_point_policy, restore_learning, set_point_policy
from bot.storage import SqliteDashboardRepository, SqliteIncidentRepository, open_database


class RecordingDetector:
    def __init__(self, can_forget: bool = False):
        self.added: list[tuple[str, str, str, bool]] = []
        self.policies: dict = {}
        self.cleared: list[str] = []
        if can_forget:
            self.clear_server_exemplars = self._clear

    def add_server_exemplar(self, server_id, talking_point_id, text, positive):
        self.added.append((server_id, talking_point_id, text, positive))

    def set_point_policy(self, server_id, talking_point_id, policy):
        if policy is None:
            self.policies.pop((server_id, talking_point_id), None)
        else:
            self.policies[(server_id, talking_point_id)] = policy

    def _clear(self, server_id):
        self.cleared.append(server_id)
        self.added = [a for a in self.added if a[0] != server_id]


@pytest.fixture
async def db(tmp_path):
    conn = await open_database(tmp_path / "l.db")
    try:
        yield conn
    finally:
        await conn.close()


async def incident(db, text="NATO made Russia do it", server="g1", content=True):
    repo = SqliteIncidentRepository(db)
    inc = await repo.record_incident(NewIncident(
        "discord", server, "c", f"m-{text}", "", "a", text, "nato-expansion-provoked", Stance.ASSERT, 0.9, 0.8,
        Action.REPLY, '{"language": "en"}', datetime.now(timezone.utc)), group_window=timedelta(0))
    if not content:
        await repo.purge_message_content("discord", "c", f"m-{text}")
        inc = await repo.get_incident(inc.id)
    return inc


async def test_verdicts_become_exemplars_and_changes_rebuild_the_overlay(db):
    det = RecordingDetector(can_forget=True)
    store = SqliteDashboardRepository(db)
    learner = VerdictLearner(store, det)
    a, b = await incident(db, "first"), await incident(db, "second")
    r = await learner.learn(a, IncidentStatus.FALSE_POSITIVE, "mod")
    assert r.exemplar.positive is False and r.exemplar.lang == "en" and r.live
    await learner.learn(b, IncidentStatus.CONFIRMED, "mod")
    assert det.added == [("g1", "nato-expansion-provoked", "first", False), ("g1", "nato-expansion-provoked", "second", True)]
    # the same verdict again: retired and re-stored, nothing new for the detector
    await learner.learn(a, IncidentStatus.FALSE_POSITIVE, "mod")
    assert len(det.added) == 2 and det.cleared == []
    # a changed verdict: the server's overlay is rebuilt from the active exemplars
    r = await learner.learn(a, IncidentStatus.CONFIRMED, "mod")
    assert r.live and det.cleared == ["g1"]
    assert sorted(det.added) == [("g1", "nato-expansion-provoked", "first", True),
                                 ("g1", "nato-expansion-provoked", "second", True)]
    # dismissed: nothing learned, the earlier exemplar retired
    r = await learner.learn(b, IncidentStatus.DISMISSED, "mod")
    assert r.exemplar is None and len(r.retired) == 1
    assert det.added == [("g1", "nato-expansion-provoked", "first", True)]
    assert [e.text for e in await store.active_exemplars()] == ["first"]


async def test_without_forgetting_the_change_waits_for_a_restart(db):
    det = RecordingDetector(can_forget=False)
    learner = VerdictLearner(SqliteDashboardRepository(db), det)
    a = await incident(db)
    await learner.learn(a, IncidentStatus.FALSE_POSITIVE, "mod")
    r = await learner.learn(a, IncidentStatus.CONFIRMED, "mod")
    assert not r.live and "until it restarts" in r.notes[0]
    fresh = RecordingDetector()
    assert await restore_learning(db, fresh) == 1
    assert fresh.added == [("g1", "nato-expansion-provoked", "NATO made Russia do it", True)]


async def test_purged_content_teaches_nothing(db):
    det = RecordingDetector()
    r = await VerdictLearner(SqliteDashboardRepository(db), det).learn(await incident(db, content=False),
                                                                        IncidentStatus.FALSE_POSITIVE, "mod")
    assert r.exemplar is None and "purged" in r.notes[0] and det.added == []


async def test_policies_are_stored_applied_and_restored(db):
    det = RecordingDetector()
    store = SqliteDashboardRepository(db)
    await set_point_policy(store, det, platform="", server_id="", talking_point_id="tp", reply_threshold=0.9,
                           review_only=False, actor="admin")
    await set_point_policy(store, det, platform="discord", server_id="g1", talking_point_id="tp",
                           reply_threshold=None, review_only=True, actor="admin")
    assert det.policies == {(None, "tp"): PointPolicy(0.9, False), ("g1", "tp"): PointPolicy(None, True)}
    with pytest.raises(ValueError):
        await set_point_policy(store, det, platform="", server_id="", talking_point_id="tp", reply_threshold=1.5,
                               review_only=False, actor="admin")
    fresh = RecordingDetector()
    assert await restore_learning(db, fresh) == 2 and fresh.policies == det.policies
    assert await clear_point_policy(store, det, platform="discord", server_id="g1", talking_point_id="tp")
    assert det.policies == {(None, "tp"): PointPolicy(0.9, False)}
    assert [p.is_global for p in await store.list_point_policies()] == [True]
