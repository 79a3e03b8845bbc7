"""Changes made by another process sharing the database (a verdict, a channel mode, a point policy ...).

The repositories publish each change inside the transaction that makes it (``_common.publish_change``). This module
delivers them to a handler in every process:

* PostgreSQL: ``LISTEN contextbot_changes``; NOTIFY is sent at commit and arrives within milliseconds, with the
  change's kind, platform, server and detail, so only what changed is reloaded.
* SQLite: no notifications between processes, so a task polls the change counter in ``kv`` every
  ``poll_interval`` seconds (2 s by default: one indexed read, cheap); when it moved the handler is called with
  kind ``"any"`` and the process reloads everything the counter covers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from ._common import CHANGES_CHANNEL, CHANGES_KEY, fetch_one, locked

log = logging.getLogger(__name__)

POLL_INTERVAL = 2.0


@dataclass(frozen=True)
class Change:
    kind: str  # verdict | exemplars | channel_mode | server_settings | policy | any
    platform: str = ""
    server_id: str = ""
    detail: str = ""

    @classmethod
    def parse(cls, payload: str) -> "Change":
        parts = (payload.split("\t") + ["", "", "", ""])[:4]
        return cls(*parts)


Handler = Callable[[Change], Awaitable[None]]


class ChangeFeed:
    def __init__(self, db: Any, handler: Handler, *, poll_interval: float = POLL_INTERVAL) -> None:
        self._db = db
        self._handler = handler
        self._poll_interval = poll_interval
        self._task: asyncio.Task | None = None
        self._pending: set[asyncio.Task] = set()
        self._seq: str | None = None

    @property
    def mechanism(self) -> str:
        return "listen" if getattr(self._db, "dialect", "sqlite") == "postgresql" else "poll"

    async def start(self) -> "ChangeFeed":
        if self.mechanism == "listen":
            await self._db.raw.add_listener(CHANGES_CHANNEL, self._on_notify)
        else:
            self._seq = await self._read_seq()
            self._task = asyncio.create_task(self._poll(), name="contextbot-change-poll")
        return self

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(Change.parse(payload)))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _deliver(self, change: Change) -> None:
        try:
            await self._handler(change)
        except Exception:  # noqa: BLE001 - a failing reload must not stop the feed
            log.exception("applying change %s failed", change)

    async def _read_seq(self) -> str | None:
        async with locked(self._db):
            row = await fetch_one(self._db, "SELECT value FROM kv WHERE key = ?", (CHANGES_KEY,))
        return row["value"] if row else None

    async def poll_once(self) -> bool:
        seq = await self._read_seq()
        if seq == self._seq:
            return False
        self._seq = seq
        await self._deliver(Change("any"))
        return True

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_interval)
            try:
                await self.poll_once()
            except Exception:  # noqa: BLE001 - e.g. the database is busy; try again next round
                log.warning("polling the change counter failed", exc_info=True)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        elif self.mechanism == "listen":
            with contextlib.suppress(Exception):
                await self._db.raw.remove_listener(CHANGES_CHANNEL, self._on_notify)
        for task in list(self._pending):
            task.cancel()


__all__ = ["Change", "ChangeFeed", "POLL_INTERVAL"]
