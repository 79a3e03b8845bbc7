"""SqliteSettingsRepository against a real migrated SQLite file."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.models import ChannelMode
from bot.core.ports import ServerSettings, SettingsRepository
from bot.storage import Database, SqliteSettingsRepository, open_database


@pytest.fixture
async def db(database_target):
    conn = await open_database(database_target)
    yield conn
    await conn.close()


@pytest.fixture
def repo(db) -> SqliteSettingsRepository:
    return SqliteSettingsRepository(db)


CUSTOM = ServerSettings(
    platform="discord",
    server_id="g1",
    default_mode=ChannelMode.REPLY,
    modlog_channel_id="modlog",
    cooldown=timedelta(minutes=5),
    author_cooldown=timedelta(seconds=90),
    hourly_cap=2,
    disabled_packs=("ukraine-war", "covid"),
    moderator_role_id="role-7",
    extra={"lang": "uk", "nested": {"a": [1, 2, None]}, "quote": "'); DROP TABLE kv;--"},
)


def test_implements_protocol_methods():
    for name in [n for n in vars(SettingsRepository) if not n.startswith("_")]:
        assert asyncio.iscoroutinefunction(getattr(SqliteSettingsRepository, name, None)), name


async def test_unknown_server_gets_defaults(repo, db):
    settings = await repo.get_server_settings("matrix", "!space:example.org")
    assert settings == ServerSettings(platform="matrix", server_id="!space:example.org")
    assert settings.default_mode == ChannelMode.REVIEW
    assert (settings.cooldown, settings.author_cooldown, settings.hourly_cap) == (
        timedelta(minutes=30),
        timedelta(minutes=10),
        6,
    )
    assert (await db.execute_fetchall("SELECT COUNT(*) FROM server_settings"))[0][0] == 0  # reading creates no row


async def test_save_load_roundtrip_and_overwrite(repo, db):
    await repo.save_server_settings(CUSTOM)
    assert await repo.get_server_settings("discord", "g1") == CUSTOM

    # same server id on another platform is a different server
    assert await repo.get_server_settings("matrix", "g1") == ServerSettings("matrix", "g1")

    changed = ServerSettings("discord", "g1", default_mode=ChannelMode.OFF, hourly_cap=0, disabled_packs=())
    await repo.save_server_settings(changed)
    assert await repo.get_server_settings("discord", "g1") == changed
    assert (await db.execute_fetchall("SELECT COUNT(*) FROM server_settings"))[0][0] == 1

    row = (await db.execute_fetchall("SELECT cooldown_s, disabled_packs, extra FROM server_settings"))[0]
    assert tuple(row) == (1800.0, "[]", "{}")


async def test_fractional_cooldown_and_unserialisable_extra(repo):
    s = ServerSettings("discord", "g2", cooldown=timedelta(seconds=1.5))
    await repo.save_server_settings(s)
    assert (await repo.get_server_settings("discord", "g2")).cooldown == timedelta(seconds=1.5)

    with pytest.raises(TypeError):
        await repo.save_server_settings(ServerSettings("discord", "g3", extra={"bad": object()}))
    assert await repo.get_server_settings("discord", "g3") == ServerSettings("discord", "g3")


async def test_corrupt_stored_values_fall_back_to_defaults(repo, db):
    await repo.save_server_settings(CUSTOM)
    await db.execute(
        "UPDATE server_settings SET default_mode = 'shout', disabled_packs = 'not json', extra = '[1, 2]'"
    )
    s = await repo.get_server_settings("discord", "g1")
    assert (s.default_mode, s.disabled_packs, s.extra) == (ChannelMode.REVIEW, (), {})
    assert s.hourly_cap == 2  # readable fields are kept


@pytest.mark.parametrize(
    ("server_default", "channel_modes", "expected"),
    [
        (None, {}, {"c1": ChannelMode.REVIEW, "c2": ChannelMode.REVIEW}),  # new server
        (ChannelMode.LOG, {}, {"c1": ChannelMode.LOG, "c2": ChannelMode.LOG}),
        (None, {"c1": ChannelMode.REPLY}, {"c1": ChannelMode.REPLY, "c2": ChannelMode.REVIEW}),
        (ChannelMode.OFF, {"c2": ChannelMode.REVIEW}, {"c1": ChannelMode.OFF, "c2": ChannelMode.REVIEW}),
        (ChannelMode.REPLY, {"c1": ChannelMode.LOG, "c2": ChannelMode.OFF}, {"c1": ChannelMode.LOG, "c2": ChannelMode.OFF}),
    ],
)
async def test_channel_mode_override(repo, server_default, channel_modes, expected):
    if server_default is not None:
        await repo.save_server_settings(ServerSettings("discord", "g1", default_mode=server_default))
    for channel, mode in channel_modes.items():
        await repo.set_channel_mode("discord", "g1", channel, mode)
    got = {c: await repo.get_channel_mode("discord", "g1", c) for c in expected}
    assert got == expected
    # modes are per platform
    assert await repo.get_channel_mode("matrix", "g1", "c1") == ChannelMode.REVIEW


async def test_channel_mode_latest_wins_and_follows_server_default(repo, db):
    await repo.set_channel_mode("discord", "g1", "c1", ChannelMode.REPLY)
    await repo.set_channel_mode("discord", "g1", "c1", ChannelMode.OFF)
    assert await repo.get_channel_mode("discord", "g1", "c1") == ChannelMode.OFF
    assert (await db.execute_fetchall("SELECT COUNT(*) FROM channel_settings"))[0][0] == 1

    # a channel without an override follows later changes of the server default
    assert await repo.get_channel_mode("discord", "g1", "c2") == ChannelMode.REVIEW
    await repo.save_server_settings(ServerSettings("discord", "g1", default_mode=ChannelMode.LOG))
    assert await repo.get_channel_mode("discord", "g1", "c2") == ChannelMode.LOG
    assert await repo.get_channel_mode("discord", "g1", "c1") == ChannelMode.OFF


@pytest.mark.parametrize(
    "value",
    ["s_1234_5678_abc", "", "'); DROP TABLE kv;--", "nul\x00inside", "🙂" * 10_000],
)
async def test_kv_roundtrip(repo, value):
    assert await repo.get_value("matrix.sync_token") is None
    await repo.set_value("matrix.sync_token", "old")
    await repo.set_value("matrix.sync_token", value)
    assert await repo.get_value("matrix.sync_token") == value
    assert await repo.get_value("other") is None


async def test_settings_persist_across_reopen(tmp_path):
    path = tmp_path / "persist.db"
    async with await Database.open(path) as database:
        await database.settings.save_server_settings(CUSTOM)
        await database.settings.set_channel_mode("discord", "g1", "c1", ChannelMode.LOG)
        await database.settings.set_value("k", "v")

    async with await Database.open(path) as database:
        assert await database.settings.get_server_settings("discord", "g1") == CUSTOM
        assert await database.settings.get_channel_mode("discord", "g1", "c1") == ChannelMode.LOG
        assert await database.settings.get_value("k") == "v"
