"""Campaign tracking (issue 16): the pure tracker, the desk with real SQLite storage, the service hook."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from bot.core.campaign_desk import CampaignDesk, parse_verdict
from bot.core.campaigns import (KIND_COPYPASTA, KIND_TALKING_POINT, CampaignSettings, CampaignTracker, Sighting,
                                describe)
from bot.core.models import Action, Decision, Explanation, IncidentStatus, IncomingMessage, Stance
from bot.storage import open_database
from bot.storage.campaigns import SqliteCampaignRepository

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "campaign_raid.json").read_text())
PASTA = ("WAKE UP PEOPLE!!! The so called Bucha massacre was STAGED by the Kyiv regime with paid actors, "
         "the bodies appeared days after the Russian army left. Share this before they delete it!!!")


def sighting(i: int, author: str, *, minutes: float = 0, tp: str | None = "tp1", stance=Stance.ASSERT,
             action=Action.REPLY, text: str = "short", channel: str = "c1", server: str = "s1") -> Sighting:
    return Sighting("discord", server, channel, f"m{i}", author, T0 + timedelta(minutes=minutes), text,
                    talking_point_id=tp, stance=stance, action=action)


def feed(tracker: CampaignTracker, items) -> list:
    return [e for e in (tracker.observe(s, None, s.text.casefold()) for s in items) if e is not None]


@pytest.mark.parametrize("case, items, expected_new, expected_grown", [
    ("4 asserts, 3 authors", [("a", 0), ("b", 5), ("c", 10), ("a", 15)], 1, 0),
    ("4 asserts, 2 authors", [("a", 0), ("b", 5), ("a", 10), ("b", 15)], 0, 0),
    ("spread over 2 hours", [("a", 0), ("b", 40), ("c", 80), ("d", 120)], 0, 0),
    ("grows after the alert", [("a", 0), ("b", 1), ("c", 2), ("d", 3), ("e", 4), ("f", 5)], 1, 2),
])
def test_talking_point_threshold(case, items, expected_new, expected_grown):
    events = feed(CampaignTracker(), [sighting(i, a, minutes=m) for i, (a, m) in enumerate(items)])
    assert sum(e.new for e in events) == expected_new, case
    assert sum(not e.new for e in events) == expected_grown, case
    if events:
        assert events[-1].kind == KIND_TALKING_POINT and events[-1].talking_point_id == "tp1"
        assert len(events[-1].members) == len(items)


@pytest.mark.parametrize("stance, action, settings, counts", [
    (Stance.ASSERT, Action.REPLY, CampaignSettings(), True),
    (Stance.ASSERT, Action.REVIEW, CampaignSettings(), True),
    (Stance.ASSERT, Action.REVIEW, CampaignSettings(count_review=False), False),
    (Stance.REFUTE, Action.REVIEW, CampaignSettings(), False),
    (Stance.REPORT, Action.REVIEW, CampaignSettings(), False),
    (Stance.ASK, Action.REVIEW, CampaignSettings(), False),
    (Stance.ASSERT, Action.NONE, CampaignSettings(), False),
])
def test_only_assertions_count(stance, action, settings, counts):
    events = feed(CampaignTracker(settings),
                  [sighting(i, f"u{i}", minutes=i, stance=stance, action=action) for i in range(6)])
    assert bool(events) is counts


def test_redelivered_message_counts_once():
    s = [sighting(0, "a"), sighting(0, "a"), sighting(0, "a"), sighting(1, "b"), sighting(2, "c")]
    assert feed(CampaignTracker(), s) == []


def test_copypasta_without_talking_point_is_a_campaign():
    variants = [PASTA, PASTA.replace("!!!", "!!"), PASTA.upper(), PASTA.replace("Share this", "Share it")]
    items = [sighting(i, f"u{i}", minutes=i, tp=None, stance=None, action=Action.NONE, text=t, channel=f"c{i % 3}")
             for i, t in enumerate(variants)]
    events = feed(CampaignTracker(), items)
    assert [e.new for e in events] == [True]
    assert events[0].kind == KIND_COPYPASTA and events[0].talking_point_id is None
    assert set(events[0].channels) == {"c0", "c1", "c2"}


def test_short_or_different_texts_are_not_copypasta():
    short = [sighting(i, f"u{i}", tp=None, stance=None, action=Action.NONE, text="same short text") for i in range(6)]
    texts = ["My cat knocked the whole bookshelf over this morning and then looked at me as if it were my fault.",
             "Has anyone tried the new patch? The ranked queue times are terrible since the weekend update.",
             "Weather here is awful, three days of rain and the river next to our street is almost over the banks.",
             "For dinner I tried that lentil curry recipe someone posted last week, it was honestly very good.",
             "The night train to Vienna was delayed two hours but the sleeper cabin was comfortable enough."]
    other = [sighting(10 + i, f"u{i}", tp=None, stance=None, action=Action.NONE, text=t) for i, t in enumerate(texts)]
    assert feed(CampaignTracker(), short + other) == []


def test_vector_similarity_joins_a_paraphrase():
    base = PASTA
    para = ("Wake up everyone, the Bucha massacre was staged by the Kyiv regime using paid actors; bodies showed up "
            "days after the Russian army had left. Share before they delete it")
    v = np.ones(8, dtype=np.float32) / np.sqrt(8)
    t = CampaignTracker()
    evs = []
    for i, txt in enumerate([base, para, base, para]):
        s = sighting(i, f"u{i}", minutes=i, tp=None, stance=None, action=Action.NONE, text=txt)
        evs.append(t.observe(s, v, txt.casefold()))
    assert [e is not None and e.new for e in evs] == [False, False, False, True]


def test_debate_guard_and_memory_caps():
    t = CampaignTracker(CampaignSettings(max_groups=8, max_members=5))
    for i in range(40):
        t.observe(sighting(i, f"u{i}", minutes=i * 0.1, tp=f"tp{i}"))  # 40 distinct points, one message each
    assert t.counts()["groups"] <= 8
    feed(t, [sighting(100 + i, f"v{i}", minutes=i * 0.1) for i in range(30)])
    assert max(len(g.members) for s in t._servers.values() for g in s.groups.values()) <= 5
    many = CampaignTracker(CampaignSettings(max_servers=3))
    for i in range(10):
        many.observe(sighting(i, "a", server=f"srv{i}"))
    assert many.counts()["servers"] == 3


def test_busy_refuting_discussion_is_not_a_campaign():
    items = [sighting(i, m["author"], minutes=m["t"] / 60, stance=Stance(m["stance"]), action=Action(m["action"]),
                      text=m["text"], channel=m["channel"]) for i, m in enumerate(FIXTURE["busy_refuting"])]
    assert sum(m["stance"] == "assert" for m in FIXTURE["busy_refuting"]) >= 4  # enough to pass the size alone
    assert feed(CampaignTracker(), items) == []


COUNTER = ("The 'Bucha was staged' claim has been debunked by multiple independent investigations, "
           "read the reports.")
HALF_MATCHED = ("Stop sharing the staged-Bucha nonsense, the evidence of the killings is overwhelming and it is "
                "all documented.")


@pytest.mark.parametrize("case, text, near_point, refutes_first, raised", [
    ("a raid's copypasta", PASTA, None, 0, True),
    ("copies of a counter-argument", COUNTER, None, 0, False),
    ("copies near a point the server is refuting", HALF_MATCHED, "tp1", 6, False),
    ("copies near a point nobody is refuting", HALF_MATCHED, "tp1", 0, True),
])
def test_copypasta_of_counter_speech_is_not_a_campaign(case, text, near_point, refutes_first, raised):
    from bot.core.campaign_desk import counter_speech

    refutes = [sighting(100 + i, f"r{i}", minutes=i, stance=Stance.REFUTE, action=Action.NONE,
                        text=f"No, it was not staged, evidence {i}") for i in range(refutes_first)]
    copies = [Sighting("discord", "s1", f"c{i % 2}", f"m{i}", f"u{i}", T0 + timedelta(minutes=10 + i), text,
                       talking_point_id=None, stance=None, action=Action.NONE, near_point=near_point,
                       counter_speech=counter_speech(text)) for i in range(5)]
    events = feed(CampaignTracker(), refutes + copies)
    assert bool(events) is raised, case


def test_recorded_raid_is_one_campaign_updated():
    items = [sighting(i, m["author"], minutes=m["t"] / 60, tp=m["talking_point"],
                      stance=Stance(m["stance"]) if m["stance"] else None, action=Action(m["action"]),
                      text=m["text"], channel=m["channel"]) for i, m in enumerate(FIXTURE["raid"])]
    events = feed(CampaignTracker(), items)
    assert sum(e.new for e in events) == 1
    assert {e.key for e in events} == {f"tp:{FIXTURE['talking_point']}"}
    last = events[-1]
    assert len(last.members) == 40 and len(last.authors) == 12 and len(last.channels) == 3
    info = describe(last.members, T0 + timedelta(hours=1))
    assert info["messages"] == 40 and sum(c for _, c in info["timeline"]) == 40


def test_settings_validation():
    with pytest.raises(ValueError):
        CampaignSettings(min_authors=5, min_messages=4).validate()
    with pytest.raises(ValueError):
        CampaignSettings(window=timedelta(0)).validate()
    CampaignSettings().validate()


@pytest.mark.parametrize("word, verdict", [("confirm", "confirmed"), ("FP", "false_positive"),
                                           ("dismiss", "dismissed"), ("maybe", None)])
def test_parse_verdict(word, verdict):
    assert parse_verdict(word) == verdict


def _decision(tp, stance, action) -> Decision:
    expl = Explanation(tp, stance, {}, 0.0, 0.0, 0.0, None, None, False, "", "en")
    return Decision(action, tp, stance, 0.9, expl, is_incident=action is not Action.NONE)


class RecordingResolver:
    def __init__(self):
        self.calls = []

    async def __call__(self, incident_id, status, reviewer, note):
        self.calls.append((incident_id, status, reviewer))
        return object()


async def test_desk_stores_resolves_and_purges(database_target):
    db = await open_database(database_target)
    try:
        repo = SqliteCampaignRepository(db)
        desk = CampaignDesk(CampaignTracker(), repo)
        inc = type("Inc", (), {})
        events = []
        for i in range(6):
            msg = IncomingMessage("discord", "g1", f"c{i % 2}", f"m{i}", f"u{i}", f"Bucha was staged {i}",
                                  created_at=T0 + timedelta(minutes=i),
                                  author_created_at=T0 - timedelta(days=2))
            incident = inc()
            incident.id = 100 + i
            events.append(await desk.observe(msg, _decision("tp1", Stance.ASSERT, Action.REVIEW), incident, T0))
        raised = [e for e in events if e is not None]
        assert [e.new for e in raised] == [True, False, False]
        assert len({e.campaign_id for e in raised}) == 1
        cid = raised[0].campaign_id
        rec = await repo.get_campaign(cid)
        assert rec.message_count == 6 and rec.author_count == 6 and rec.status == "open"
        await repo.set_alert_post(cid, "mod", "alert1")
        assert (await repo.campaign_by_alert("discord", "alert1")).id == cid
        members = await repo.campaign_members(cid)
        assert members[0].author_created_at == T0 - timedelta(days=2)
        assert await desk.purge_message("discord", "c0", "m0") == 1
        assert (await repo.campaign_members(cid))[0].text == ""
        assert await repo.purge_author_content("discord", "u1") == 1
        resolver = RecordingResolver()
        rec, n = await desk.resolve(cid, "confirmed", "mod#1", resolver)
        assert rec.status == "confirmed" and rec.resolved_by == "mod#1" and n == 6
        assert {c[1] for c in resolver.calls} == {IncidentStatus.CONFIRMED}
        assert [r.id for r in await repo.list_campaigns(status="confirmed")] == [cid]
        assert await repo.purge_content_before(T0 + timedelta(days=1)) == 4
    finally:
        await db.close()


@pytest.mark.parametrize("text, raised", [(PASTA, True), (COUNTER, False)])
async def test_desk_reads_counter_speech_of_copies_long_enough_to_count(database_target, text, raised):
    """The desk scans a message for counter speech only when copypasta could count it; copies of a counter-argument
    still never raise a campaign, copies of a raid's paste do."""
    db = await open_database(database_target)
    try:
        desk = CampaignDesk(CampaignTracker(), SqliteCampaignRepository(db))
        events = []
        for i in range(6):
            msg = IncomingMessage("discord", "g1", f"c{i % 2}", f"m{i}", f"u{i}", text,
                                  created_at=T0 + timedelta(minutes=i))
            events.append(await desk.observe(msg, _decision(None, None, Action.NONE), None, T0))
        assert any(e is not None for e in events) is raised
    finally:
        await db.close()


@pytest.mark.parametrize("section, error", [
    ({"min_messages": 5, "window_minutes": 30}, None),
    ({"min_authors": 9}, "cannot exceed"),
    ({"text_similarity": 2}, "between 0 and 1"),
    ({"nope": 1}, "unknown key"),
    ({"window_minutes": 0}, "must be positive"),
])
def test_config_section(section, error):
    from bot.config import ConfigError, parse_config
    if error is None:
        cfg = parse_config({"campaigns": section}, {}).campaigns
        assert cfg.min_messages == 5 and cfg.window == timedelta(minutes=30)
    else:
        with pytest.raises(ConfigError, match=error):
            parse_config({"campaigns": section}, {})


@pytest.mark.parametrize("text, counter", [
    (COUNTER, True),
    ("Reminder: the 'NATO provoked Russia' line is Kremlin propaganda, not a fact.", True),
    ("Это ложь, Буча не была постановкой, это доказано.", True),
    # a raid's paste with "allies", "bombs" or "предложил" inside a word calls nothing false
    ("NATO and its allies are not telling you the truth about Bucha, share this before they delete it!", False),
    ("They dropped the bombs themselves and did not even hide it, the whole Bucha thing was staged!!!", False),
    ("Путин предложил мир, а Киев не захотел, Буча была постановкой, распространите!", False),
])
def test_counter_speech_needs_a_debunking_word(text, counter):
    from bot.core.campaign_desk import counter_speech

    assert counter_speech(text) is counter
