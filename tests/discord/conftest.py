"""Fixtures: a fake Discord (REST + gateway) on 127.0.0.1 and the REAL discord.py client connected to it,
wired to the real IncidentService on real SQLite storage (in tmp_path).

This directory has no __init__.py on purpose: a package named ``discord`` would shadow discord.py. pytest puts
this directory on sys.path, so the helper modules are imported by their (unique) names.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import discord
import pytest

from bot.core.models import ChannelMode
from bot.core.packs import PackRegistry
from bot.core.service import IncidentService
from bot.discord_adapter import PLATFORM, ContextBot
from bot.storage import SqliteIncidentRepository, SqliteSettingsRepository, open_database

from discord_fakes import ScriptedDetector
from discord_helpers import World, start_bot, stop_bot
from fake_discord import ADMIN_PERMS, EVERYONE_PERMS, MODERATOR_PERMS, FakeDiscord


@pytest.fixture(autouse=True)
def no_logged_errors(caplog):
    """Exceptions inside event handlers are logged by discord.py, not raised: fail the test on any of them."""
    caplog.set_level(logging.WARNING)
    yield
    records = caplog.get_records("setup") + caplog.get_records("call") + caplog.records  # (+ teardown so far)
    errors = [r for r in records if r.levelno >= logging.ERROR]
    assert not errors, "errors were logged:\n" + "\n".join(f"{r.name}: {r.getMessage()}" for r in errors)


@pytest.fixture
async def fake_discord(monkeypatch) -> FakeDiscord:
    fake = await FakeDiscord().start()
    fake.patch_discord_py(monkeypatch)
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def world(fake_discord: FakeDiscord) -> World:
    f = fake_discord
    guild = f.make_guild("Test server", channels=("general", "review", "modlog", "locked", "updates"))
    guild["public_updates_channel_id"] = f.channel_by_name(guild, "updates")["id"]  # admins' Community Updates
    deny_embeds = {"id": f.role_id(guild, "contextbot"), "type": 0, "allow": "0",
                   "deny": str(discord.Permissions(embed_links=True).value)}
    f.add_channel(int(guild["id"]), "noembeds", position=4, overwrites=[deny_embeds])
    ch = {c["name"]: c for c in guild["channels"]}
    f.forbidden_channels.add(int(ch["locked"]["id"]))
    # server-level roles: Discord computes each member's permissions from these (and channel overwrites)
    f.add_role(guild, "Staff", MODERATOR_PERMS)
    f.add_role(guild, "Admins", ADMIN_PERMS)
    # "Helpers" may manage messages in #review only (a channel overwrite), not server-wide
    helpers = f.add_role(guild, "Helpers", EVERYONE_PERMS)
    ch["review"]["permission_overwrites"].append(
        {"id": helpers["id"], "type": 0, "allow": str(discord.Permissions(manage_messages=True).value), "deny": "0"})
    world = World(f, guild, ch["general"], ch["review"], ch["modlog"], ch["locked"], ch["noembeds"],
                  f.make_user("alice"), f.make_user("bob"), f.make_user("mod"), f.make_user("admin"))
    f.add_member(guild, world.mod, "Staff")
    f.add_member(guild, world.admin, "Admins")
    return world


# ---------------------------------------------------------------------------------------- core


@pytest.fixture(scope="session")
def registry() -> PackRegistry:
    return PackRegistry.load()


@pytest.fixture(scope="session")
def real_detector(registry, tmp_path_factory):
    from bot.config import DetectorConfig
    from bot.core.detector import Detector

    return Detector.build(registry, DetectorConfig(), cache_dir=tmp_path_factory.mktemp("detector-cache"))


@pytest.fixture
def scripted_detector() -> ScriptedDetector:
    return ScriptedDetector()


@pytest.fixture
def detector(real_detector):
    """Which detector the bot uses; test modules may override it (test_discord_adapter.py uses the scripted one)."""
    return real_detector


@pytest.fixture
async def db(tmp_path: Path):
    conn = await open_database(tmp_path / "contextbot.db")
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def service(db, registry, detector) -> IncidentService:
    return IncidentService(detector, registry, SqliteIncidentRepository(db), SqliteSettingsRepository(db))


@pytest.fixture
async def setup_world(service: IncidentService, world: World) -> World:
    """Channel modes and modlog for the test server, stored the way the admin commands store them."""
    settings = service.settings
    await settings.set_channel_mode(PLATFORM, world.guild_id, world.general["id"], ChannelMode.REPLY)
    await settings.set_channel_mode(PLATFORM, world.guild_id, world.locked["id"], ChannelMode.REPLY)
    await settings.set_channel_mode(PLATFORM, world.guild_id, world.noembeds["id"], ChannelMode.REPLY)
    current = await settings.get_server_settings(PLATFORM, world.guild_id)
    await settings.save_server_settings(replace(current, modlog_channel_id=world.modlog["id"]))
    return world


@pytest.fixture
async def bot(fake_discord: FakeDiscord, setup_world: World, service: IncidentService, db) -> ContextBot:
    bot, task = await start_bot(fake_discord, service, db)
    try:
        yield bot
    finally:
        await stop_bot(bot, task)
        assert not fake_discord.unknown_routes(), [f"{c.method} {c.path}" for c in fake_discord.unknown_routes()]
