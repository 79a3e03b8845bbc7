"""Helpers for the Discord tests (importable; fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from bot.config import DiscordConfig
from bot.core.service import IncidentService, Outcome
from bot.discord_adapter import ContextBot
from bot.storage.alerts import SqliteAlertRepository

from fake_discord import FakeDiscord

log = logging.getLogger(__name__)


@dataclass
class World:
    fake: FakeDiscord
    guild: dict
    general: dict  # reply mode
    review: dict  # default mode (review)
    modlog: dict
    locked: dict  # reply mode, but the bot may not post there (403)
    noembeds: dict  # reply mode, but an overwrite denies the bot Embed Links
    alice: dict
    bob: dict
    mod: dict
    admin: dict

    @property
    def guild_id(self) -> str:
        return self.guild["id"]


async def start_bot(fake: FakeDiscord, service: IncidentService, db, config: DiscordConfig | None = None, **options: Any):
    """The real client, connected to ``fake``, wired to ``service`` and the alert records in ``db``."""
    options.setdefault("alerts", SqliteAlertRepository(db))
    bot = ContextBot(service, config or DiscordConfig(token=fake.token), guild_ready_timeout=0.05, **options)
    await bot.login(fake.token)
    task = asyncio.create_task(bot.connect(reconnect=True), name="discord-connect")
    await asyncio.wait_for(bot.wait_until_ready(), 15)
    return bot, task


async def stop_bot(bot: ContextBot, task: asyncio.Task) -> None:
    await bot.close()
    try:
        await asyncio.wait_for(task, 10)
    except (asyncio.CancelledError, Exception) as e:  # pragma: no cover - diagnostics only
        log.warning("connect task ended with %r", e)


async def say(bot: ContextBot, world: World, channel: dict, text: str, author: dict | None = None,
              timeout: float = 30.0, **extra: Any) -> tuple[dict, Outcome | None]:
    """A member posts ``text``; returns (message payload, the watcher's outcome) once the bot is done with it."""
    payload = await world.fake.user_message(channel, text, author or world.alice, dispatch=False, **extra)
    waiter = bot.wait_for("message_handled", check=lambda m, o: str(m.id) == payload["id"], timeout=timeout)
    await world.fake.dispatch("MESSAGE_CREATE", payload)
    _, outcome = await waiter
    return payload, outcome


async def edit(bot: ContextBot, world: World, payload: dict, text: str, timeout: float = 30.0) -> Outcome | None:
    waiter = bot.wait_for("message_handled", check=lambda m, o: str(m.id) == payload["id"], timeout=timeout)
    await world.fake.edit_user_message(payload, text)
    _, outcome = await waiter
    return outcome


async def delete(bot: ContextBot, world: World, payload: dict, timeout: float = 10.0) -> None:
    waiter = bot.wait_for("message_delete_handled", check=lambda mid: str(mid) == payload["id"], timeout=timeout)
    await world.fake.delete_user_message(payload)
    await waiter


async def rows(db, sql: str, *params: Any) -> list[tuple]:
    async with db.execute(sql, params) as cur:
        return [tuple(r) for r in await cur.fetchall()]
