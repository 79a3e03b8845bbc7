"""SqliteIncidentRepository against a real migrated SQLite file."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.core.models import Action, IncidentStatus, Stance
from bot.core.ports import CardPost, IncidentFilter, IncidentRepository, NewIncident, SuppressedReply
from bot.storage import MAX_CONTENT_CHARS, SqliteIncidentRepository, open_database
from incident_factory import T0, new_incident

NOW = datetime(2025, 3, 2, 9, 30, 0, tzinfo=timezone.utc)
WINDOW = timedelta(hours=1)


@pytest.fixture
async def db(database_target):
    conn = await open_database(database_target)
    yield conn
    await conn.close()


@pytest.fixture
def repo(db) -> SqliteIncidentRepository:
    return SqliteIncidentRepository(db, clock=lambda: NOW)


async def record(repo, new: NewIncident, window: timedelta = WINDOW):
    """Record an incident the repository must insert (a message and point it has not seen)."""
    inc, created = await repo.record_incident(new, window)
    assert created
    return inc


def card(**overrides) -> CardPost:
    values = dict(
        id=0,
        platform="discord",
        server_id="g1",
        channel_id="c1",
        thread_id="",
        source_message_id="m1",
        post_message_id="p1",
        talking_point_id="tp.nazi",
        author_id="u1",
        incident_id=None,
        lang="en",
        pack_version="2025.03",
        created_at=T0,
    )
    values.update(overrides)
    return CardPost(**values)


async def raw(db, sql: str, params=()) -> list[tuple]:
    return [tuple(r) for r in await db.execute_fetchall(sql, params)]


async def integrity_ok(db) -> bool:
    """SQLite's integrity_check; PostgreSQL has no equivalent query, so there: the database still answers."""
    if getattr(db, "dialect", "sqlite") == "sqlite":
        return await raw(db, "PRAGMA integrity_check") == [("ok",)]
    return await raw(db, "SELECT 1") == [(1,)]


# ---------------------------------------------------------------------------------------- basics


def test_implements_protocol_methods():
    for name in [n for n in vars(IncidentRepository) if not n.startswith("_")]:
        assert callable(getattr(SqliteIncidentRepository, name, None)), name
        assert asyncio.iscoroutinefunction(getattr(SqliteIncidentRepository, name)), name


async def test_record_and_get_roundtrip(repo):
    inc = await record(repo, new_incident(), WINDOW)

    assert inc.id > 0
    assert (inc.platform, inc.server_id, inc.channel_id, inc.message_id) == ("discord", "g1", "c1", "m1")
    assert inc.message_link == "https://discord.com/channels/g1/c1/m1"
    assert (inc.author_id, inc.content, inc.talking_point_id) == ("u1", "Ukraine is run by nazis", "tp.nazi")
    assert (inc.stance, inc.action, inc.status) == (Stance.ASSERT, Action.REVIEW, IncidentStatus.OPEN)
    assert (inc.score, inc.match_score) == (pytest.approx(0.91), pytest.approx(0.83))
    assert inc.explanation_json == '{"reason": "asserts tp.nazi"}'
    assert (inc.group_id, inc.hit_count) == (inc.id, 1)
    assert (inc.reviewer, inc.note, inc.resolved_at) == (None, None, None)
    assert inc.created_at == T0 and inc.created_at.tzinfo is not None
    assert inc.updated_at == NOW

    assert await repo.get_incident(inc.id) == inc
    assert await repo.get_incident(inc.id + 1000) is None


async def test_naive_and_offset_datetimes_are_stored_as_utc(repo, db):
    plus2 = timezone(timedelta(hours=2))
    a = await record(repo, new_incident(message_id="a", created_at=datetime(2025, 3, 1, 14, 0, tzinfo=plus2)), WINDOW)
    b = await record(repo, new_incident(message_id="b", author_id="u2", created_at=datetime(2025, 3, 1, 12, 0)), WINDOW)
    assert a.created_at == b.created_at == T0
    assert await raw(db, "SELECT DISTINCT created_at FROM incidents") == [("2025-03-01T12:00:00.000000Z",)]


async def test_content_is_capped(repo):
    text = "x" * (MAX_CONTENT_CHARS - 1) + "yz" + "overflow" * 10
    inc = await record(repo, new_incident(content=text), WINDOW)
    assert MAX_CONTENT_CHARS == 8000
    assert inc.content == text[:8000]
    assert inc.content.endswith("y")


# ------------------------------------------------------------------------------------- list / count


@pytest.fixture
async def seeded(repo) -> dict[str, int]:
    """Six incidents (no grouping: window 0). Returns message_id -> incident id."""
    rows = [
        dict(message_id="m1", created_at=T0, score=0.50),
        dict(message_id="m2", created_at=T0 + timedelta(minutes=1), score=0.90, author_id="u2"),
        dict(message_id="m3", created_at=T0 + timedelta(minutes=2), score=0.70, channel_id="c2", stance=Stance.ASK),
        dict(message_id="m4", created_at=T0 + timedelta(minutes=3), score=0.60, server_id="g2", talking_point_id="tp.bio"),
        dict(message_id="m5", created_at=T0 + timedelta(minutes=4), score=0.95, platform="matrix", server_id="!space"),
        dict(message_id="m6", created_at=T0 + timedelta(minutes=5), score=0.10, stance=Stance.REPORT),
    ]
    ids = {}
    for r in rows:
        inc = await record(repo, new_incident(**r), timedelta(0))
        ids[r["message_id"]] = inc.id
    await repo.resolve_incident(ids["m6"], IncidentStatus.DISMISSED, "mod", None)
    return ids


ALL = {"m1", "m2", "m3", "m4", "m5", "m6"}


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (IncidentFilter(), ALL),
        (IncidentFilter(platform="matrix"), {"m5"}),
        (IncidentFilter(server_id="g2"), {"m4"}),
        (IncidentFilter(scope=("discord:g1", "discord:g2")), ALL - {"m5"}),
        (IncidentFilter(scope=("matrix:!space",)), {"m5"}),
        (IncidentFilter(scope=("discord:!space", "matrix:g1")), set()),  # the pair must match, not the id alone
        (IncidentFilter(scope=()), set()),  # empty allow-list = no access
        (IncidentFilter(scope=("discord:g1",), server_id="g2"), set()),
        (IncidentFilter(channel_id="c2"), {"m3"}),
        (IncidentFilter(talking_point_id="tp.bio"), {"m4"}),
        (IncidentFilter(stance=Stance.ASK), {"m3"}),
        (IncidentFilter(stance=Stance.ASSERT), {"m1", "m2", "m4", "m5"}),
        (IncidentFilter(status=IncidentStatus.DISMISSED), {"m6"}),
        (IncidentFilter(status=IncidentStatus.OPEN), ALL - {"m6"}),
        (IncidentFilter(author_id="u2"), {"m2"}),
        (IncidentFilter(since=T0 + timedelta(minutes=2)), {"m3", "m4", "m5", "m6"}),  # inclusive
        (IncidentFilter(until=T0 + timedelta(minutes=2)), {"m1", "m2"}),  # exclusive
        (IncidentFilter(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3)), {"m2", "m3"}),
        (IncidentFilter(platform="discord", server_id="g1", stance=Stance.ASSERT, status=IncidentStatus.OPEN), {"m1", "m2"}),
        (IncidentFilter(author_id="' OR 1=1 --"), set()),
    ],
)
async def test_list_and_count_filters(repo, seeded, flt, expected):
    listed = await repo.list_incidents(flt, limit=100)
    assert {i.message_id for i in listed} == expected
    assert await repo.count_incidents(flt) == len(expected)


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("newest", ["m6", "m5", "m4", "m3", "m2", "m1"]),
        ("oldest", ["m1", "m2", "m3", "m4", "m5", "m6"]),
        ("score", ["m5", "m2", "m3", "m4", "m1", "m6"]),
    ],
)
async def test_list_order_and_paging(repo, seeded, order, expected):
    flt = IncidentFilter(order=order)
    assert [i.message_id for i in await repo.list_incidents(flt)] == expected
    pages = [await repo.list_incidents(flt, limit=4, offset=o) for o in (0, 4, 8)]
    assert [[i.message_id for i in p] for p in pages] == [expected[:4], expected[4:], []]
    assert await repo.list_incidents(flt, limit=0) == []


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        (dict(flt=IncidentFilter(order="random(); DROP TABLE incidents")), ValueError),
        (dict(flt=IncidentFilter(), limit=-1), ValueError),
        (dict(flt=IncidentFilter(), offset=-5), ValueError),
        (dict(flt=IncidentFilter(), limit="10"), TypeError),
    ],
)
async def test_list_rejects_bad_arguments(repo, seeded, db, kwargs, exc):
    with pytest.raises(exc):
        await repo.list_incidents(**kwargs)
    assert await repo.count_incidents(IncidentFilter()) == 6


# ------------------------------------------------------------------------------------------ grouping


@pytest.mark.parametrize(
    ("second", "grouped"),
    [
        (dict(created_at=T0 + timedelta(minutes=30)), True),
        (dict(created_at=T0 + WINDOW), True),  # boundary is inclusive
        (dict(created_at=T0 + WINDOW + timedelta(seconds=1)), False),
        (dict(created_at=T0 + timedelta(minutes=5), channel_id="c9", message_id="m9"), True),  # any channel
        (dict(created_at=T0 + timedelta(minutes=5), author_id="u2"), False),
        (dict(created_at=T0 + timedelta(minutes=5), talking_point_id="tp.other"), False),
        (dict(created_at=T0 + timedelta(minutes=5), server_id="g2"), False),
        (dict(created_at=T0 + timedelta(minutes=5), platform="matrix"), False),
    ],
)
async def test_grouping_window(repo, second, grouped):
    first = await record(repo, new_incident(), WINDOW)
    other = await record(repo, new_incident(**{"message_id": "m2", **second}), WINDOW)
    root = await repo.get_incident(first.id)

    if grouped:
        assert other.group_id == first.id
        assert root.hit_count == 2
        assert other.hit_count == 1
        assert root.updated_at == NOW
    else:
        assert other.group_id == other.id
        assert root.hit_count == 1
        assert other.hit_count == 1
    assert root.group_id == first.id


async def test_grouping_is_sliding_and_counts_on_root(repo):
    ids = []
    for minutes in (0, 50, 100, 150):  # each hit is within the window of the previous one only
        inc = await record(repo, new_incident(message_id=f"m{minutes}", created_at=T0 + timedelta(minutes=minutes)), WINDOW)
        ids.append(inc)
    root = await repo.get_incident(ids[0].id)
    assert [i.group_id for i in ids] == [root.id] * 4
    assert root.hit_count == 4

    late = await record(repo, new_incident(message_id="late", created_at=T0 + timedelta(hours=5)), WINDOW)
    assert late.group_id == late.id
    assert (await repo.get_incident(root.id)).hit_count == 4


async def test_hit_whose_group_root_is_gone_starts_a_new_group(repo, db):
    first = await record(repo, new_incident(), WINDOW)
    second = await record(repo, new_incident(message_id="m2", created_at=T0 + timedelta(minutes=1)), WINDOW)
    assert second.group_id == first.id
    if getattr(db, "dialect", "sqlite") == "sqlite":
        await db.execute("PRAGMA foreign_keys = OFF")  # an operator removed the root row by hand
    await db.execute("DELETE FROM incidents WHERE id = ?", (first.id,))
    third = await record(repo, new_incident(message_id="m3", created_at=T0 + timedelta(minutes=2)), WINDOW)
    stored = await repo.get_incident(third.id)
    assert third.group_id == third.id == stored.group_id
    assert stored.hit_count == 1


async def test_recorded_incident_is_returned_exactly_as_stored(repo):
    """record_incident returns the row from INSERT ... RETURNING plus the trigger's effect on a new root."""
    root = await record(repo, new_incident(), WINDOW)
    assert root == await repo.get_incident(root.id)
    joined = await record(repo, new_incident(message_id="m2", created_at=T0 + timedelta(minutes=1)), WINDOW)
    assert joined == await repo.get_incident(joined.id)
    assert joined.group_id == root.id


async def test_zero_window_disables_grouping(repo):
    a = await record(repo, new_incident(), timedelta(0))
    b = await record(repo, new_incident(message_id="m2"), timedelta(0))
    assert (a.group_id, b.group_id) == (a.id, b.id)


async def test_concurrent_records_keep_hit_count_consistent(repo):
    incs = await asyncio.gather(
        *[record(repo, new_incident(message_id=f"m{i}", created_at=T0 + timedelta(seconds=i)), WINDOW) for i in range(20)]
    )
    roots = {i.group_id for i in incs}
    assert len(roots) == 1
    root = await repo.get_incident(roots.pop())
    assert root.hit_count == 20


async def test_record_incident_returns_the_existing_incident_for_the_same_message_and_point(repo, db):
    first, created = await repo.record_incident(new_incident(), WINDOW)
    assert created and first == await repo.get_incident(first.id)
    again, created = await repo.record_incident(
        new_incident(content="edited text", created_at=T0 + timedelta(minutes=3)), WINDOW)
    assert not created and again == first  # the edit does not overwrite or duplicate
    other_point, created = await repo.record_incident(new_incident(talking_point_id="tp.other"), WINDOW)
    assert created and other_point.id != first.id
    other_channel, created = await repo.record_incident(new_incident(channel_id="c2"), WINDOW)
    assert created and other_channel.group_id == first.id  # same author and point: grouped as by record_incident
    joined, created = await repo.record_incident(new_incident(message_id="m2"), WINDOW)
    assert created and joined.group_id == first.id
    assert (await repo.get_incident(first.id)).hit_count == 3
    assert await raw(db, "SELECT COUNT(*) FROM incidents") == [(4,)]


async def test_concurrent_deliveries_of_one_message_record_one_incident(repo, db):
    results = await asyncio.gather(*[repo.record_incident(new_incident(), WINDOW) for _ in range(10)])
    assert sum(created for _, created in results) == 1
    assert len({inc.id for inc, _ in results}) == 1
    assert await raw(db, "SELECT COUNT(*), MAX(hit_count) FROM incidents") == [(1, 1)]


# ------------------------------------------------------------------------------------------- resolve


@pytest.mark.parametrize(
    "status", [IncidentStatus.CONFIRMED, IncidentStatus.FALSE_POSITIVE, IncidentStatus.DISMISSED]
)
async def test_resolve_sets_verdict(repo, db, status):
    inc = await record(repo, new_incident(), WINDOW)
    resolved = await repo.resolve_incident(inc.id, status, "mod#1", "checked the thread")

    assert resolved.status == status
    assert (resolved.reviewer, resolved.note) == ("mod#1", "checked the thread")
    assert resolved.resolved_at == NOW
    assert resolved.updated_at == NOW
    assert await repo.get_incident(inc.id) == resolved
    assert await raw(db, "SELECT status FROM incidents WHERE id = ?", (inc.id,)) == [(status.value,)]


async def test_resolve_missing_and_reopen(repo):
    assert await repo.resolve_incident(12345, IncidentStatus.CONFIRMED, "mod", None) is None

    inc = await record(repo, new_incident(), WINDOW)
    await repo.resolve_incident(inc.id, IncidentStatus.CONFIRMED, "mod", "yes")
    reopened = await repo.resolve_incident(inc.id, IncidentStatus.OPEN, "mod2", None)
    assert reopened.status == IncidentStatus.OPEN
    assert reopened.resolved_at is None
    assert (reopened.reviewer, reopened.note) == ("mod2", None)


# --------------------------------------------------------------------------------------------- purge


async def test_incidents_for_message_and_purge_by_message(repo, db):
    a = await record(repo, new_incident(talking_point_id="tp.a"), WINDOW)
    b = await record(repo, new_incident(talking_point_id="tp.b"), WINDOW)
    other = await record(repo, new_incident(message_id="m2"), WINDOW)
    same_id_other_channel = await record(repo, new_incident(channel_id="c2"), WINDOW)

    assert [i.id for i in await repo.incidents_for_message("discord", "c1", "m1")] == [a.id, b.id]
    assert await repo.purge_message_content("discord", "c1", "m1") == 2
    assert await repo.purge_message_content("discord", "c1", "m1") == 0  # already blank

    for inc in await repo.incidents_for_message("discord", "c1", "m1"):
        assert inc.content is None
        assert inc.updated_at == NOW
    assert (await repo.get_incident(other.id)).content == "Ukraine is run by nazis"
    assert (await repo.get_incident(same_id_other_channel.id)).content == "Ukraine is run by nazis"
    assert await raw(db, "SELECT id, content_purged_at FROM incidents WHERE content IS NULL ORDER BY id") == [
        (a.id, "2025-03-02T09:30:00.000000Z"),
        (b.id, "2025-03-02T09:30:00.000000Z"),
    ]
    assert await repo.purge_message_content("matrix", "c1", "m2") == 0


async def test_purge_content_before(repo, db):
    ids = {}
    for days in (10, 5, 1):
        inc = await record(repo, 
            new_incident(message_id=f"d{days}", created_at=NOW - timedelta(days=days)), timedelta(0)
        )
        ids[days] = inc.id

    assert await repo.purge_content_before(NOW - timedelta(days=5)) == 1  # strictly older
    assert await repo.purge_content_before(NOW - timedelta(days=2)) == 1
    assert await repo.purge_content_before(NOW - timedelta(days=2)) == 0

    contents = {d: (await repo.get_incident(i)).content for d, i in ids.items()}
    assert contents == {10: None, 5: None, 1: "Ukraine is run by nazis"}
    purged = await raw(db, "SELECT COUNT(*) FROM incidents WHERE content_purged_at IS NOT NULL")
    assert purged == [(2,)]


# ----------------------------------------------------------------------------------------- card posts


async def test_card_posts_record_and_lookup(repo, db):
    inc = await record(repo, new_incident(), WINDOW)
    first = await repo.record_card_post(card(id=999, incident_id=inc.id))
    assert first.id > 0 and first.id != 999  # the id on input is ignored
    assert dataclasses.replace(first, id=0) == card(incident_id=inc.id)

    later = await repo.record_card_post(
        card(post_message_id="p2", created_at=T0 + timedelta(minutes=10), thread_id="th1", lang="ru")
    )
    await repo.record_card_post(card(post_message_id="p3", channel_id="c2", created_at=T0 + timedelta(minutes=20)))
    await repo.record_card_post(card(post_message_id="p1", platform="matrix"))  # same post id, other platform

    assert await repo.card_post_by_post_id("discord", "p1") == first
    assert (await repo.card_post_by_post_id("matrix", "p1")).platform == "matrix"
    assert await repo.card_post_by_post_id("discord", "nope") is None

    # two cards for source m1 in c1: the newest wins
    assert await repo.card_post_for_source("discord", "c1", "m1") == later
    assert await repo.card_post_for_source("discord", "c1", "other") is None

    # card_history: the source's newest card (at any time) and the channel's cards since a time, oldest first
    for source, newest in (("m1", later), ("other", None)):
        for since, recent in ((T0 - timedelta(days=1), ["p1", "p2"]), (T0, ["p1", "p2"]),
                              (T0 + timedelta(minutes=5), ["p2"]), (T0 + timedelta(minutes=10), ["p2"]),
                              (T0 + timedelta(hours=1), [])):
            got_newest, got_recent = await repo.card_history("discord", "c1", source, since)
            assert got_newest == newest and [c.post_message_id for c in got_recent] == recent, (source, since)
    assert (await repo.card_history("discord", "c1", "m1", T0))[1][0] == first

    await repo.mark_card_retracted(first.id)
    assert (await repo.card_post_by_post_id("discord", "p1")).retracted is True
    assert (await repo.card_post_by_post_id("discord", "p2")).retracted is False
    assert await raw(db, "SELECT COUNT(*) FROM card_posts") == [(4,)]


async def test_card_post_constraints(repo, db):
    await repo.record_card_post(card())
    with pytest.raises(sqlite3.IntegrityError):
        await repo.record_card_post(card(source_message_id="m2"))  # duplicate (platform, post_message_id)
    with pytest.raises(sqlite3.IntegrityError):
        await repo.record_card_post(card(post_message_id="p9", incident_id=4242))  # FK
    assert await raw(db, "SELECT post_message_id FROM card_posts") == [("p1",)]
    assert not db.in_transaction


async def test_record_suppressed(repo, db):
    s = SuppressedReply("discord", "g1", "c1", "m7", "tp.nazi", "hourly cap reached", T0)
    await repo.record_suppressed(s)
    assert await raw(
        db, "SELECT platform, server_id, channel_id, source_message_id, talking_point_id, reason, created_at FROM suppressed_replies"
    ) == [("discord", "g1", "c1", "m7", "tp.nazi", "hourly cap reached", "2025-03-01T12:00:00.000000Z")]


# ------------------------------------------------------------------------------------------- feedback


async def test_feedback_one_vote_per_user(repo, db):
    post = await repo.record_card_post(card())
    other = await repo.record_card_post(card(post_message_id="p2"))
    steps = [
        ("alice", True, True, (1, 0)),  # new vote
        ("alice", True, False, (1, 0)),  # same vote again: unchanged
        ("bob", False, True, (1, 1)),
        ("alice", False, True, (0, 2)),  # changed vote replaces the old one
        ("alice", False, False, (0, 2)),
        ("carol", True, True, (1, 2)),
    ]
    for user, helpful, changed, counts in steps:
        assert await repo.record_feedback(post.id, user, helpful) is changed, (user, helpful)
        assert await repo.feedback_counts(post.id) == counts

    assert await raw(db, "SELECT COUNT(*) FROM card_feedback WHERE card_post_id = ?", (post.id,)) == [(3,)]
    assert await repo.feedback_counts(other.id) == (0, 0)
    with pytest.raises(sqlite3.IntegrityError):
        await repo.record_feedback(9999, "alice", True)


# ------------------------------------------------------------------------------------- hostile input


HOSTILE = [
    pytest.param("'); DROP TABLE incidents;--", id="sql-injection"),
    pytest.param("\"double\" 'single' `back` [bracket] ?1 :name @x $y %s {}", id="quotes-and-placeholders"),
    pytest.param("before\x00after\x00", id="nul"),
    pytest.param("🇺🇦 👩‍👩‍👧 слава 🤡 \u202eRTL override\u200b zero-width", id="emoji-unicode"),
    pytest.param("A" * 100_000, id="100kb"),
    pytest.param(("'; DELETE FROM incidents; --\x00🙂" * 4000), id="100kb-mixed"),
    pytest.param("\r\n\t\x1b[31m\x7f\\\\%_", id="control-chars"),
]


@pytest.mark.parametrize("text", HOSTILE)
async def test_hostile_text_round_trips(repo, db, text):
    await record(repo, new_incident(message_id="safe"), WINDOW)
    inc = await record(repo, 
        new_incident(content=text, message_id=text, author_id=text, message_link=text, explanation_json=text), WINDOW
    )
    resolved = await repo.resolve_incident(inc.id, IncidentStatus.CONFIRMED, text, text)

    fetched = await repo.get_incident(inc.id)
    assert fetched == resolved
    assert fetched.content == text[:MAX_CONTENT_CHARS]
    assert (fetched.message_id, fetched.author_id, fetched.message_link, fetched.explanation_json) == (text,) * 4
    assert (fetched.reviewer, fetched.note) == (text, text)  # not capped
    assert [i.id for i in await repo.list_incidents(IncidentFilter(author_id=text))] == [inc.id]
    assert [i.id for i in await repo.incidents_for_message("discord", "c1", text)] == [inc.id]
    assert await repo.purge_message_content("discord", "c1", text) == 1

    assert await repo.count_incidents(IncidentFilter()) == 2
    assert await integrity_ok(db)


async def test_hostile_text_in_cards_and_feedback(repo, db):
    text = "'); DROP TABLE card_posts;--\x00🙂"
    post = await repo.record_card_post(card(post_message_id=text, source_message_id=text, pack_version=text))
    assert await repo.card_post_by_post_id("discord", text) == post
    assert await repo.record_feedback(post.id, text, True) is True
    assert await repo.feedback_counts(post.id) == (1, 0)
    await repo.record_suppressed(SuppressedReply("discord", text, "c1", text, "tp", text, T0))
    assert await raw(db, "SELECT reason FROM suppressed_replies") == [(text,)]


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("lone \ud800 high", "lone \ufffd high"),
        ("lone \udfff low", "lone \ufffd low"),
        ("split pair \ud83d\ude00", "split pair 😀"),  # two UTF-16 code units become one character
        ("reversed \ude00\ud83d", "reversed \ufffd\ufffd"),
    ],
)
async def test_lone_surrogates_are_replaced_not_fatal(repo, db, text, stored):
    inc = await record(repo, new_incident(content=text, author_id=text, message_id=text), WINDOW)
    assert inc.content == stored
    assert inc.author_id == stored
    # lookups with the same (unencodable) value find the row
    assert [i.id for i in await repo.incidents_for_message("discord", "c1", text)] == [inc.id]
    assert await repo.count_incidents(IncidentFilter(author_id=text)) == 1
    assert await integrity_ok(db)


async def test_nan_scores_do_not_break_insert(repo):
    inc = await record(repo, new_incident(score=float("nan"), match_score=float("inf")), WINDOW)
    assert inc.score == 0.0
    assert inc.match_score == float("inf")


# ------------------------------------------------------------------------------ edits and alert posts


async def test_update_message_content_follows_an_edit_but_leaves_purged_snapshots_purged(repo, db):
    a = await record(repo, new_incident())
    b = await record(repo, new_incident(talking_point_id="tp.other"))
    other = await record(repo, new_incident(message_id="m2"))
    assert await repo.update_message_content("discord", "c1", "m1", "I had lunch today") == 2
    assert [(await repo.get_incident(i.id)).content for i in (a, b, other)] == [
        "I had lunch today", "I had lunch today", "Ukraine is run by nazis"]
    await repo.purge_message_content("discord", "c1", "m1")
    assert await repo.update_message_content("discord", "c1", "m1", "back again") == 0
    assert (await repo.get_incident(a.id)).content is None


async def test_alert_posts_roundtrip_and_the_purged_content_sweep(repo):
    from bot.core.ports import AlertPost

    kept = await record(repo, new_incident())
    gone = await record(repo, new_incident(message_id="m2"))
    posts = [await repo.record_alert_post(AlertPost(0, "matrix", inc.id, "!mods:x", f"$alert{inc.id}", T0))
             for inc in (kept, gone)]
    assert await repo.alert_post_by_post_id("matrix", f"$alert{gone.id}") == posts[1]
    assert await repo.alert_post_by_post_id("discord", f"$alert{gone.id}") is None
    assert await repo.alert_posts_for_incident(kept.id) == [posts[0]]
    assert await repo.alerts_showing_purged_content("matrix") == []

    await repo.purge_message_content("discord", "c1", "m2")
    assert await repo.alerts_showing_purged_content("matrix") == [posts[1]]
    assert await repo.alerts_showing_purged_content("discord") == []
    await repo.mark_alert_content_removed(posts[1].id)
    assert await repo.alerts_showing_purged_content("matrix") == []
    assert (await repo.alert_post_by_post_id("matrix", f"$alert{gone.id}")).content_removed
    with pytest.raises(sqlite3.IntegrityError):  # one row per posted message
        await repo.record_alert_post(posts[0])
