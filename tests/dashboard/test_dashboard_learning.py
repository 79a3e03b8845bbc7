"""The platform-neutral verdict -> exemplar logic (bot.dashboard.learning) with real SQLite storage and a recording
detector, including a detector that can forget a server's exemplars (verdict changes take effect live)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from bot.core.models import Action, IncidentStatus
from bot.core.detector import PointPolicy
from bot.dashboard.learning import VerdictLearner, clear_point_policy, restore_learning, set_point_policy
from bot.storage import SqliteDashboardRepository, SqliteIncidentRepository, open_database
from incident_factory import new_incident


class RecordingDetector:
    def __init__(self, can_forget: bool = False):
        self.added: list[tuple[str, str, str, bool]] = []
        self.policies: dict = {}
        self.cleared: list[str] = []
        if can_forget:
            self.clear_server_exemplars = self._clear

    def add_server_exemplar(self, server_id, talking_point_id, text, positive, embedding=None):
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
async def db(database_target):
    conn = await open_database(database_target)
    try:
        yield conn
    finally:
        await conn.close()


async def incident(db, text="NATO made Russia do it", server="g1", content=True):
    repo = SqliteIncidentRepository(db)
    inc, _ = await repo.record_incident(new_incident(
        server_id=server, channel_id="c", message_id=f"m-{text}", message_link="", author_id="a", content=text,
        talking_point_id="nato-expansion-provoked", score=0.9, match_score=0.8, action=Action.REPLY,
        explanation_json='{"language": "en"}', created_at=datetime.now(timezone.utc)), group_window=timedelta(0))
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


async def test_purging_the_message_blanks_the_exemplar_text_but_keeps_its_vector(db):
    det = RecordingDetector()
    det.exemplar_embedding = lambda text: np.full(4, len(text), dtype=np.float32)
    learner = VerdictLearner(SqliteDashboardRepository(db), det)
    repo = SqliteIncidentRepository(db)
    deleted = await incident(db, "NATO forced Russia, deleted later")
    expired = await incident(db, "NATO forced Russia, expires")
    for inc in (deleted, expired):
        r = await learner.learn(inc, IncidentStatus.FALSE_POSITIVE, "mod")
        assert r.exemplar.text == inc.content
        assert np.frombuffer(r.exemplar.embedding, np.float32).tolist() == [len(inc.content)] * 4

    await repo.purge_message_content("discord", "c", "m-NATO forced Russia, deleted later")  # the author deleted it
    await repo.purge_content_before(datetime.now(timezone.utc) + timedelta(days=1))  # retention
    rows = await SqliteDashboardRepository(db).active_exemplars()
    assert [(e.text, e.text_purged_at is not None, e.embedding is not None) for e in rows] == [("", True, True)] * 2
    raw = await db.execute_fetchall("SELECT COUNT(*) FROM server_exemplars WHERE text LIKE '%NATO%'")
    assert raw[0][0] == 0  # the words are nowhere in the database any more

    # a restarted bot still knows both verdicts, from the vectors
    fresh = RecordingDetector()
    assert await restore_learning(db, fresh) == 2
    assert [(a[2], a[3]) for a in fresh.added] == [("", False), ("", False)]


async def test_purged_exemplar_still_decides_in_a_restarted_detector(db, detector):
    """With the real detector: a false-positive verdict keeps working after the text is purged and the bot
    restarts (the verdict is restored from the stored vector, not from the text)."""
    from bot.config import DetectorConfig
    from bot.core.detector import Detector

    text = "NATO expansion forced Russia to act, the West pushed right up to its borders."
    running = Detector.build(detector.registry, DetectorConfig(), encoder=detector.encoder)
    before = running.check(text, server_id="g1")
    assert before.is_incident and before.talking_point_id == "nato-expansion-provoked"

    inc = await incident(db, text)
    await VerdictLearner(SqliteDashboardRepository(db), running).learn(inc, IncidentStatus.FALSE_POSITIVE, "mod")
    assert running.check(text, server_id="g1").action is Action.NONE
    await SqliteIncidentRepository(db).purge_message_content("discord", "c", f"m-{text}")

    restarted = Detector.build(detector.registry, DetectorConfig(), encoder=detector.encoder)
    assert await restore_learning(db, restarted) == 1
    assert restarted.check(text, server_id="g1").action is Action.NONE
    assert restarted.check(text, server_id="g2").action is before.action  # other servers unaffected


async def test_exemplars_learned_before_vectors_are_back_filled_at_start(db, detector):
    from bot.config import DetectorConfig
    from bot.core.detector import Detector

    text = "NATO expansion forced Russia to act, the West pushed right up to its borders."
    inc = await incident(db, text)
    store = SqliteDashboardRepository(db)
    await store.replace_incident_exemplar(platform="discord", server_id="g1", talking_point_id=inc.talking_point_id,
                                          text=text, lang="en", positive=False, incident_id=inc.id, created_by="mod")
    assert (await store.active_exemplars())[0].embedding is None  # as stored by an older version
    restarted = Detector.build(detector.registry, DetectorConfig(), encoder=detector.encoder)
    assert await restore_learning(db, restarted) == 1
    (e,) = await store.active_exemplars()
    np.testing.assert_allclose(np.frombuffer(e.embedding, np.float32), restarted.exemplar_embedding(text), atol=1e-6)
