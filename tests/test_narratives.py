"""Emerging narratives (issue #16.3): the pure clusterer, eligibility, storage and purges, the draft export,
and the end-to-end through the service with the real detector."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import yaml

from bot.core.narratives import (
    NarrativeSettings,
    NarrativeClusterer,
    NarrativeTracker,
    contrary_cue,
    draft_pack_yaml,
    draft_talking_point,
    eligible,
)
from bot.core.ports import NewNarrativeMember
from bot.narratives_cli import validate_draft
from bot.storage import open_database
from bot.storage.narratives import SqliteNarrativeRepository


def unit(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


# ------------------------------------------------------------------------------------------ clusterer

@pytest.mark.parametrize("vectors, expected_keys, expected_created", [
    # identical vectors share one cluster
    ([unit(1, 0, 0), unit(1, 0, 0), unit(1, 0, 0)], [1, 1, 1], [True, False, False]),
    # orthogonal vectors each start their own
    ([unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)], [1, 2, 3], [True, True, True]),
    # cosine 0.6 (>= 0.55) joins, cosine 0.5 does not
    ([unit(1, 0, 0), unit(0.6, 0.8, 0), unit(0, 0, 1)], [1, 1, 2], [True, False, True]),
    ([unit(1, 0, 0), unit(0.5, 0.866, 0)], [1, 2], [True, True]),
    # the nearest centre wins
    ([unit(1, 0, 0), unit(0, 1, 0), unit(0.1, 1, 0)], [1, 2, 2], [True, True, False]),
])
def test_clusterer_joins_the_nearest_centre_above_the_threshold(vectors, expected_keys, expected_created):
    c = NarrativeClusterer()
    hits = [c.add(v) for v in vectors]
    assert [h.cluster_key for h in hits] == expected_keys
    assert [h.created for h in hits] == expected_created


def test_centre_is_the_running_mean_and_size_counts():
    c = NarrativeClusterer(join_cosine=0.5)
    c.add(unit(1, 0))
    hit = c.add(unit(0.6, 0.8))
    assert hit.size == 2
    np.testing.assert_allclose(c.centre(1), unit(1.6, 0.8), atol=1e-6)


def test_memory_is_bounded_and_the_small_old_centres_go_first():
    c = NarrativeClusterer(max_centres=8)
    rng = np.random.default_rng(0)
    big = rng.normal(size=64).astype(np.float32)
    for _ in range(5):
        c.add(big)  # one cluster with 5 members, touched early
    for _ in range(200):
        c.add(rng.normal(size=64))  # random directions: almost all new singletons
    assert len(c) <= 8
    # the big cluster is old too, but small ones are evicted before it while it is in the oldest quarter
    assert c.add(big).created is False or c.centre(1) is None


def test_the_default_bound_is_2048_centres():
    c = NarrativeClusterer()
    rng = np.random.default_rng(1)
    for v in rng.normal(size=(2100, 512)):  # near-orthogonal: every vector starts a cluster
        c.add(v)
    assert c.max_centres == 2048 and len(c) == 2048


def test_evicted_slots_are_reused_and_the_search_stays_right():
    c = NarrativeClusterer(max_centres=2)
    a, b, d = unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)
    ka = c.add(a).cluster_key
    kb = c.add(b).cluster_key
    c.add(b)  # b is now the most recently touched
    kd = c.add(d).cluster_key  # full: the oldest-touched (a) goes
    assert len(c) == 2 and c.centre(ka) is None
    assert c.add(b).cluster_key == kb and c.add(d).cluster_key == kd
    hit = c.add(a)  # a comes back as a new cluster in the freed slot
    assert hit.created and hit.cluster_key not in (ka, kb, kd) and len(c) == 2


def test_restore_skips_centres_of_another_dimension():
    c = NarrativeClusterer()
    c.restore(7, unit(1, 0, 0), 4)
    c.restore(8, [0.5, 0.5], 2)  # another encoder's vector: ignored
    assert len(c) == 1 and c.centre(8) is None
    hit = c.add(unit(1, 0.1, 0))
    assert (hit.cluster_key, hit.size, hit.created) == (7, 5, False)
    assert c.add(unit(0, 1, 0)).cluster_key > 7  # new keys continue after the restored ones


def test_rekey_moves_a_centre_to_its_storage_id():
    c = NarrativeClusterer()
    c.add(unit(1, 0))
    c.rekey(1, 41)
    assert c.centre(1) is None and c.centre(41) is not None
    assert c.add(unit(1, 0)).cluster_key == 41
    assert c.add(unit(0, 1)).cluster_key == 42


@pytest.mark.parametrize("text, gate, matched, p, ok", [
    ("Ukraine shelled its own train station to blame Russia.", True, False, 0.8, True),
    ("Ukraine shelled its own train station to blame Russia.", False, False, 0.8, False),  # gated
    ("Ukraine shelled its own train station to blame Russia.", True, True, 0.8, False),  # a talking point covers it
    ("Ukraine shelled its own train station to blame Russia.", True, False, 0.3, False),  # not an assertion
    ("Did Ukraine shell its own train station?", True, False, 0.9, False),  # question
    ("The claim that Ukraine shelled its own station is fake news.", True, False, 0.9, False),  # debunk
    ("Russian TV claims that Ukraine shelled its own station.", True, False, 0.9, False),  # attribution
    ("Russian TV keeps saying Ukraine shelled its own station.", True, False, 0.9, False),  # attribution
    ("Говорят, что Украина сама обстреляла вокзал.", True, False, 0.9, False),  # attribution (ru)
    ("Кажуть, що Україна сама обстріляла вокзал.", True, False, 0.9, False),  # attribution (uk)
    ("Im Fernsehen heißt es, die Ukraine habe den Bahnhof beschossen.", True, False, 0.9, False),  # attribution (de)
    ("It is not true that Ukraine shelled its own station.", True, False, 0.9, False),  # negation
])
def test_only_unmatched_on_topic_assertions_are_eligible(text, gate, matched, p, ok):
    assert eligible(passed_gate=gate, matched=matched, p_assert=p, text=text) is ok


def test_contrary_cue_names_the_cue():
    assert contrary_cue("Is this real?") == "question"
    assert contrary_cue("Это фейк") == "debunk"
    assert contrary_cue("The army shelled the station.") is None


# ------------------------------------------------------------------------------------------ storage

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
async def repo(database_target):
    db = await open_database(database_target)
    yield SqliteNarrativeRepository(db, clock=lambda: T0)
    await db.close()


def member(cid, *, server="g1", channel="c1", author="u1", mid="m1", text="text", at=T0, platform="discord"):
    return NewNarrativeMember(cid, platform, server, channel, mid, author, "en", text, 0.9, 0.8, at)


async def test_clusters_are_listed_by_growth_across_servers_with_representatives(repo):
    a = await repo.create_cluster(unit(1, 0))
    b = await repo.create_cluster(unit(0, 1))
    for i, s in enumerate(["g1", "g2", "g3"]):
        await repo.add_member(member(a, server=s, mid=f"a{i}", text=f"claim A {i}"), unit(1, 0))
    for i in range(5):
        await repo.add_member(member(b, mid=f"b{i}", text=f"claim B {i}"), unit(0, 1))
    listed = await repo.list_clusters(since=T0 - timedelta(days=1))
    assert [c.id for c in listed] == [a, b]  # three servers beat five messages in one
    assert listed[0].servers == {"discord:g1": 1, "discord:g2": 1, "discord:g3": 1}
    assert listed[1].size == 5 and len(listed[1].representatives) == 3
    assert [c.id for c in await repo.list_clusters(since=T0 - timedelta(days=1), min_servers=2)] == [a]
    assert [c.id for c in await repo.list_clusters(since=T0 - timedelta(days=1), min_members=4)] == [b]
    assert await repo.list_clusters(since=T0 + timedelta(days=1)) == []
    (cid, vec, size), *_ = await repo.centres()
    assert size in (3, 5) and vec.shape == (2,)


async def test_retention_purge_drops_member_text_but_keeps_counts(repo):
    cid = await repo.create_cluster(unit(1, 0))
    await repo.add_member(member(cid, mid="old", text="old text", at=T0 - timedelta(days=40)))
    await repo.add_member(member(cid, mid="new", text="new text"))
    assert await repo.purge_content_before(T0 - timedelta(days=30)) == 1
    texts = {m.message_id: m.content for m in await repo.members(cid)}
    assert texts == {"old": None, "new": "new text"}
    assert (await repo.get_cluster(cid)).size == 2


@pytest.mark.parametrize("how, args, left", [
    ("purge_user", ("discord", "u1"), {"m2", "m3"}),
    ("purge_channel", ("discord", "c2"), {"m1", "m3"}),
    ("purge_server", ("discord", "g2"), {"m1", "m2"}),
    ("purge_message", ("discord", "c1", "m1"), {"m2", "m3"}),
])
async def test_user_channel_server_and_message_purges_remove_member_texts(repo, how, args, left):
    cid = await repo.create_cluster(unit(1, 0))
    await repo.add_member(member(cid, mid="m1", author="u1", text="secret one"))
    await repo.add_member(member(cid, mid="m2", author="u2", channel="c2", text="secret two"))
    await repo.add_member(member(cid, mid="m3", author="u3", channel="c3", server="g2", text="secret three"))
    assert await getattr(repo, how)(*args) == 1
    members = await repo.members(cid)
    assert {m.message_id for m in members} == left
    assert (await repo.get_cluster(cid)).size == 2
    rows = await repo._db.execute_fetchall("SELECT content FROM narrative_members")
    assert len(rows) == 2


async def test_a_cluster_purged_empty_is_forgotten_and_comes_back_on_the_next_join(repo):
    cid = await repo.create_cluster(unit(1, 0))
    await repo.add_member(member(cid, mid="m1"))
    await repo.purge_user("discord", "u1")
    assert await repo.get_cluster(cid) is None
    await repo.add_member(member(cid, mid="m2", author="u2"), unit(1, 0))
    assert (await repo.get_cluster(cid)).size == 1


# ------------------------------------------------------------------------------------------ export

def test_the_draft_export_is_a_pack_the_loader_reads_as_a_draft(tmp_path):
    tp = draft_talking_point(
        claim_id="Ukraine shelled its own station", claim="Ukraine shelled its own train station.",
        exemplars=[("Ukraine shelled its own train station to blame Russia.", "en"),
                   ("Украина сама обстреляла вокзал, чтобы обвинить Россию.", "ru"), ("  ", "en")])
    text = draft_pack_yaml(tp)
    data = yaml.safe_load(text)
    point = data["talking_points"][0]
    assert point["id"] == "ukraine-shelled-its-own-station" and "draft" in point
    assert [e["lang"] for e in point["exemplars"]["assert"]] == ["en", "ru"]
    assert data["languages"] == ["en", "ru"]
    assert validate_draft(text) == []  # only the gaps a draft is expected to have
    broken = text.replace("claim: ", "claimz: ")
    assert any("claimz" in p for p in validate_draft(broken))


# ------------------------------------------------------------------------------------------ end to end

NEW_CLAIM = [  # a claim no pack covers, posted in three servers
    ("g1", "Ukrainian troops shelled the Kramatorsk train station themselves to blame Russia."),
    ("g2", "The Kramatorsk train station strike was carried out by Ukrainian troops to frame Russia."),
    ("g3", "Ukrainian forces hit the Kramatorsk station with their own missile to blame Russia."),
    ("g1", "Kramatorsk station was shelled by the Ukrainian army itself, a staged attack to blame Russia."),
]
NOT_ASSERTING = [
    "Is it true that Ukrainian troops shelled the Kramatorsk train station themselves?",
    "The claim that Ukrainian troops shelled Kramatorsk station themselves is Russian propaganda, debunked.",
    "Russian state TV claims that Ukrainian troops shelled the Kramatorsk station themselves.",
]


@pytest.fixture
async def app(tmp_path, detector):
    from bot.app import build_app
    from bot.config import Config

    app = await build_app(Config(), detector=detector, database=tmp_path / "svc.db")
    yield app
    detector.narratives = False  # the session detector is shared with other tests
    await app.close()


_ids = itertools.count(1)


def msg(server: str, text: str, author: str | None = None):
    from bot.core.models import IncomingMessage

    n = next(_ids)
    return IncomingMessage("test", server, "c1", f"n{n}", author or f"u{n}", text)


async def test_unmatched_assertions_form_a_cluster_while_refutations_questions_and_news_do_not(app):
    tracker = app.service.narratives
    assert isinstance(tracker, NarrativeTracker) and app.detector.narratives
    outs = [await app.service.handle_message(msg(s, t)) for s, t in NEW_CLAIM]
    for o in outs:
        assert o.incident is None and o.card is None  # no talking point covers it
    seen = [await app.service.handle_message(msg("g2", t)) for t in NOT_ASSERTING]
    assert all(o.incident is None for o in seen)
    clusters = await tracker.repo.list_clusters(since=datetime.now(timezone.utc) - timedelta(days=1))
    assert clusters, "the new claim formed no cluster"
    top = clusters[0]
    members = await tracker.repo.members(top.id)
    texts = {m.content for m in members}
    assert len(members) >= 3 and len(top.servers) >= 2
    assert texts <= {t for _, t in NEW_CLAIM}
    everything = await tracker.repo._db.execute_fetchall("SELECT content FROM narrative_members")
    assert not ({r[0] for r in everything} & set(NOT_ASSERTING))
    # a known talking point and ordinary chat are not narratives
    await app.service.handle_message(msg("g1", "Zelensky is illegitimate, his term ended and he cancelled the elections."))
    await app.service.handle_message(msg("g1", "good morning everyone, coffee time"))
    after = await tracker.repo._db.execute_fetchall("SELECT COUNT(*) FROM narrative_members")
    assert after[0][0] == len(everything)
    # deleting the message removes its text
    first = members[0]
    await app.service.handle_delete(first.platform, first.channel_id, first.message_id)
    assert first.message_id not in {m.message_id for m in await tracker.repo.members(top.id)}


# ------------------------------------------------------------------------------------------ scoping (dashboard)

async def test_scoped_queries_keep_counts_but_show_only_the_scope_texts(repo):
    shared = await repo.create_cluster(unit(1, 0))
    for i, s in enumerate(["g1", "g2", "g2"]):
        await repo.add_member(member(shared, server=s, mid=f"s{i}", text=f"shared {s} {i}"), unit(1, 0))
    theirs = await repo.create_cluster(unit(0, 1))
    await repo.add_member(member(theirs, server="g2", mid="t0", text="only g2"), unit(0, 1))
    since = T0 - timedelta(days=1)
    mine = ("discord:g1",)
    listed = await repo.list_clusters(since=since, scope=mine)
    assert [c.id for c in listed] == [shared]
    assert listed[0].servers == {"discord:g2": 2, "discord:g1": 1} and listed[0].recent == 3
    assert [m.content for m in listed[0].representatives] == ["shared g1 0"]
    assert [c.id for c in await repo.list_clusters(since=since, scope=())] == []  # an empty allow-list: nothing
    assert {c.id for c in await repo.list_clusters(since=since, scope=None)} == {shared, theirs}
    assert await repo.get_cluster(theirs, scope=mine) is None
    assert (await repo.get_cluster(shared, scope=mine)).size == 3
    assert [m.content for m in await repo.members(shared, scope=mine)] == ["shared g1 0"]
    assert len(await repo.members(shared)) == 3


async def test_representatives_prefer_kept_text_and_show_purged_ones_last(repo):
    cid = await repo.create_cluster(unit(1, 0))
    await repo.add_member(member(cid, mid="old", text="old", at=T0 - timedelta(days=40)))
    await repo.purge_content_before(T0 - timedelta(days=30))
    await repo.add_member(member(cid, mid="new", text="new"))
    reps = (await repo.get_cluster(cid)).representatives
    assert [m.content for m in reps] == ["new", None]


# ------------------------------------------------------------------------------------------ config

@pytest.mark.parametrize("text, message", [
    ("[narratives]\nenabled = \"no\"\n", "narratives.enabled: expected bool"),
    ("[narratives]\nmin_assert = 1.5\n", "narratives.min_assert: must be between 0 and 1"),
    ("[narratives]\nsimilarity = 0\n", "narratives.similarity: must be above 0 and below 1"),
    ("[narratives]\nsimilarity = 1.0\n", "narratives.similarity: must be above 0 and below 1"),
    ("[narratives]\nmax_clusters = 5000\n", "narratives.max_clusters: must be 1-2048"),
    ("[narratives]\nmax_clusters = 0\n", "narratives.max_clusters: must be 1-2048"),
    ("[narratives]\nmax_centres = 10\n", "narratives.max_centres: unknown key"),
    ("narratives = 1\n", "narratives: expected a table"),
])
def test_bad_narratives_config_names_file_and_key(tmp_path, text, message):
    from bot.config import ConfigError, load_config

    path = tmp_path / "cb.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(path) in str(err.value) and message in str(err.value)


@pytest.mark.parametrize("text, expected", [
    ("", NarrativeSettings()),
    ("[narratives]\nenabled = false\n", NarrativeSettings(enabled=False)),
    ("[narratives]\nmin_assert = 0.7\nsimilarity = 0.6\nmax_clusters = 512\nkeep_text = false\n",
     NarrativeSettings(min_assert=0.7, similarity=0.6, max_clusters=512, keep_text=False)),
])
def test_narratives_config_is_read(tmp_path, text, expected):
    from bot.config import load_config

    path = tmp_path / "cb.toml"
    path.write_text(text, encoding="utf-8")
    assert load_config(path, env={}).narratives == expected


def test_the_example_config_spells_out_the_defaults():
    from pathlib import Path

    from bot.config import load_config

    root = Path(__file__).resolve().parents[1]
    assert load_config(root / "contextbot.example.toml", env={}).narratives == NarrativeSettings()


def test_the_tracker_takes_its_settings():
    t = NarrativeTracker.from_settings(None, NarrativeSettings(min_assert=0.7, similarity=0.6, max_clusters=16,
                                                               keep_text=False))
    assert (t.min_assert, t.clusterer.join_cosine, t.clusterer.max_centres, t.keep_text) == (0.7, 0.6, 16, False)


async def test_switched_off_nothing_is_clustered(tmp_path, detector):
    from dataclasses import replace

    from bot.app import build_app
    from bot.config import Config

    was = detector.narratives
    detector.narratives = False
    app = await build_app(replace(Config(), narratives=NarrativeSettings(enabled=False)), detector=detector,
                          database=tmp_path / "off.db")
    try:
        assert app.service.narratives is None and detector.narratives is False
        for s, t in NEW_CLAIM:
            await app.service.handle_message(msg(s, t))
        rows = await app.db.execute_fetchall("SELECT COUNT(*) FROM narrative_members")
        assert rows[0][0] == 0
        # a message clustered while it was on, deleted now: its text still goes
        repo = SqliteNarrativeRepository(app.db)
        await repo.add_member(member(await repo.create_cluster(unit(1, 0)), mid="kept", text="kept text"))
        await app.service.handle_delete("discord", "c1", "kept")
        rows = await app.db.execute_fetchall("SELECT COUNT(*) FROM narrative_members")
        assert rows[0][0] == 0
    finally:
        detector.narratives = was
        await app.close()
