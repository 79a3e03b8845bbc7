"""Several bot processes on one database (each connection here stands for a process): cards are decided and
reserved atomically, and changes made through one connection reach the others. Both backends."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from bot.core.budget import budget_refusal
from bot.core.models import ChannelMode, IncomingMessage
from bot.core.ports import CardPost, NewIncident, ServerSettings
from bot.storage import CachingSettingsRepository, SqliteIncidentRepository, SqliteSettingsRepository, open_database
from bot.storage.changes import Change, ChangeFeed
from incident_factory import new_incident

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
SETTINGS = ServerSettings(platform="discord", server_id="g1")


@pytest.fixture
async def conns(database_target):
    first = await open_database(database_target)
    others = [await open_database(database_target) for _ in range(3)]
    yield [first, *others]
    for c in (first, *others):
        await c.close()


def placeholder(message_id: str, tp: str = "tp1", author: str = "a1") -> CardPost:
    return CardPost(0, "discord", "g1", "c1", "", message_id, "", tp, author, None, "en", "1", NOW)


def refuse_for(msg_author: str, tp: str):
    msg = IncomingMessage(platform="discord", server_id="g1", channel_id="c1", message_id="x", author_id=msg_author,
                          text="", link="")

    def refuse(existing, recent):
        if existing is not None:
            return "card already posted"
        return budget_refusal(NOW, recent, msg, tp, SETTINGS)
    return refuse


async def test_one_message_delivered_to_every_process_gets_one_card(conns):
    repos = [SqliteIncidentRepository(c) for c in conns]
    attempts = [r.reserve_card(placeholder("m1"), NOW - timedelta(days=1), refuse_for("a1", "tp1"))
                for r in repos for _ in range(5)]
    results = await asyncio.gather(*attempts)
    reserved = [card for card, _ in results if card is not None]
    assert len(reserved) == 1
    assert sorted({reason for _, reason in results if reason}) == ["card already posted"]


def incident_for(message_id: str, tp: str = "tp1", author: str = "a1") -> NewIncident:
    return new_incident(message_id=message_id, talking_point_id=tp, author_id=author, created_at=NOW)


async def test_one_message_delivered_to_every_process_records_one_incident(conns):
    """Every process gets the message (a gateway redelivery, a shard handover): one incident per message and point,
    the same one returned to all; the author's group counts it once."""
    repos = [SqliteIncidentRepository(c) for c in conns]
    for round_ in range(5):
        msg = f"m{round_}"
        results = await asyncio.gather(*[r.record_incident(incident_for(msg), timedelta(hours=1))
                                         for r in repos for _ in range(3)])
        assert len({inc.id for inc, _ in results}) == 1
        assert sum(new for _, new in results) == 1
    per_message = [await repos[0].incidents_for_message("discord", "c1", f"m{i}") for i in range(5)]
    assert [len(rows) for rows in per_message] == [1] * 5
    root = await repos[0].get_incident(per_message[0][0].id)
    assert root is not None and root.hit_count == 5  # five messages by one author on one point: one group


async def test_an_authors_messages_in_several_processes_join_one_group(conns):
    repos = [SqliteIncidentRepository(c) for c in conns]
    for round_ in range(3):  # each process records a different message by one author at the same time
        results = await asyncio.gather(*[r.record_incident(incident_for(f"r{round_}-{i}", author="burst"),
                                                           timedelta(hours=1)) for i, r in enumerate(repos)])
        assert all(new for _, new in results)
    incidents = [await repos[0].get_incident(inc.id) for inc, _ in results]
    roots = {inc.group_id or inc.id for inc in incidents}
    assert len(roots) == 1
    root = await repos[0].get_incident(roots.pop())
    assert root.hit_count == 3 * len(repos)


async def test_the_hourly_cap_holds_across_processes(conns):
    repos = [SqliteIncidentRepository(c) for c in conns]
    attempts = [repos[i % len(repos)].reserve_card(placeholder(f"m{i}", tp=f"tp{i}", author=f"a{i}"),
                                                   NOW - timedelta(days=1), refuse_for(f"a{i}", f"tp{i}"))
                for i in range(20)]
    results = await asyncio.gather(*attempts)
    assert sum(1 for card, _ in results if card is not None) == SETTINGS.hourly_cap
    assert all(reason.startswith("hourly cap") for card, reason in results if card is None)


async def test_reserved_card_is_filled_in_or_released(conns):
    repo = SqliteIncidentRepository(conns[0])
    card, _ = await repo.reserve_card(placeholder("m1"), NOW - timedelta(days=1), refuse_for("a1", "tp1"))
    assert card.post_message_id.startswith("pending:")
    filled = await repo.fill_card_post(card.id, "posted-1")
    assert filled.post_message_id == "posted-1"
    assert await repo.card_post_by_post_id("discord", "posted-1") == filled
    other, _ = await repo.reserve_card(placeholder("m2", tp="tp2", author="a2"), NOW - timedelta(days=1),
                                       refuse_for("a2", "tp2"))
    await repo.release_card(other.id)
    assert await repo.card_post_for_source("discord", "c1", "m2") is None
    await repo.release_card(filled.id)  # a posted card is never released
    assert await repo.card_post_for_source("discord", "c1", "m1") == filled


@pytest.mark.parametrize(("later", "blocked"), [(timedelta(minutes=2), True), (timedelta(minutes=11), False)])
async def test_a_reservation_abandoned_by_a_dead_process_stops_blocking_after_a_while(conns, later, blocked):
    """A process reserved a card and died before posting it: within ABANDONED_AFTER the placeholder still stands
    (its process may be posting); after it, the message can get its card and the placeholder counts no more."""
    repo = SqliteIncidentRepository(conns[0])
    dead, _ = await repo.reserve_card(placeholder("m1"), NOW - timedelta(days=1), refuse_for("a1", "tp1"))
    assert dead is not None
    again = replace(placeholder("m1"), created_at=NOW + later)
    card, reason = await SqliteIncidentRepository(conns[1]).reserve_card(
        again, NOW - timedelta(days=1), refuse_for("a1", "tp1"))
    if blocked:
        assert card is None and reason == "card already posted"
    else:
        assert reason is None and card.post_message_id != dead.post_message_id and card.created_at == NOW + later
        _, recent = await repo._history("discord", "c1", "m1", NOW - timedelta(days=1))
        assert [c.id for c in recent] == [card.id]  # the abandoned placeholder is gone


async def test_a_channel_mode_set_in_one_process_reaches_another(conns):
    writer = SqliteSettingsRepository(conns[0])
    cache = CachingSettingsRepository(SqliteSettingsRepository(conns[1]), ttl=3600)
    assert await cache.get_channel_mode("discord", "g1", "c1") is ChannelMode.REVIEW  # now cached for an hour
    got: list[Change] = []
    arrived = asyncio.Event()

    async def handler(change: Change) -> None:
        cache.invalidate()
        got.append(change)
        arrived.set()

    feed = await ChangeFeed(conns[1], handler, poll_interval=0.05).start()
    try:
        await writer.set_channel_mode("discord", "g1", "c1", ChannelMode.REPLY)
        await asyncio.wait_for(arrived.wait(), timeout=30)
        assert await cache.get_channel_mode("discord", "g1", "c1") is ChannelMode.REPLY
        if feed.mechanism == "listen":  # PostgreSQL says what changed; SQLite only that something did
            assert got[0] == Change("channel_mode", "discord", "g1", "c1")
        else:
            assert got[0].kind == "any"
    finally:
        await feed.close()


def test_the_repository_offers_the_reservation_port():
    from bot.core.ports import CardReservations

    for name in [n for n in vars(CardReservations) if not n.startswith("_")]:
        assert asyncio.iscoroutinefunction(getattr(SqliteIncidentRepository, name, None)), name
