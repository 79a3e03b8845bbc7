"""Bounded memories the Discord watcher keeps between events: which message ids were deleted, and which channel
ids are threads of which parent (so a message in a thread missing from the cache is stored under its parent)."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Hashable

import discord

from .convert import channel_keys

log = logging.getLogger(__name__)


class Remembered:
    """An insertion-ordered map holding at most ``limit`` keys (the oldest are forgotten first)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[Hashable, object] = OrderedDict()

    def add(self, key: Hashable, value: object = None) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __getitem__(self, key: Hashable) -> object:
        return self._items[key]

    def __len__(self) -> int:
        return len(self._items)


class ThreadParents:
    """:func:`channel_keys` for any channel, also a thread missing from the cache (its parent looked up once)."""

    def __init__(self, bot: discord.Client, limit: int) -> None:
        self.bot = bot
        self._parents = Remembered(limit)  # channel id -> parent id (None: not a thread)

    async def keys(self, channel: object) -> tuple[str, str]:
        if isinstance(channel, (discord.Thread, discord.abc.GuildChannel)):
            return channel_keys(channel)
        channel_id = int(getattr(channel, "id", 0))
        if channel_id not in self._parents:
            try:
                fetched = await self.bot.fetch_channel(channel_id)
            except discord.HTTPException as e:
                log.info("could not look up channel %s: %s", channel_id, e)
                return str(channel_id), ""
            self._parents.add(channel_id, fetched.parent_id if isinstance(fetched, discord.Thread) else None)
        parent = self._parents[channel_id]
        return (str(parent), str(channel_id)) if parent else (str(channel_id), "")
