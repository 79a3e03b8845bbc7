"""SQLite implementation of :class:`bot.core.ports.SettingsRepository`.

* A server without a row gets ``ServerSettings(platform, server_id)`` (the dataclass defaults).
* A channel without a row gets its server's ``default_mode`` (REVIEW for a new server). Channel rows are
  keyed by (platform, channel_id): a channel/room has one mode even if it is reached through different
  ``server_id`` values (a Matrix room can sit in several spaces); the latest ``set_channel_mode`` wins.
* Cooldowns are stored as seconds (REAL), ``disabled_packs`` as a JSON array and ``extra`` as a JSON object
  (so ``extra`` must be JSON-serialisable; ``save_server_settings`` raises TypeError otherwise).
  Unreadable stored values (corrupt JSON, unknown mode) fall back to the defaults with a warning.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any, Callable

import aiosqlite

from ..core.models import ChannelMode
from ..core.ports import ServerSettings
from ._common import as_utc, execute, fetch_one, locked, publish_change, utcnow, write_transaction

log = logging.getLogger(__name__)


def _json_or(value: Any, default: Any, what: str) -> Any:
    try:
        parsed = json.loads(value) if value is not None else default
    except (TypeError, ValueError):
        log.warning("ignoring unreadable %s in server_settings: %r", what, value)
        return default
    return parsed if isinstance(parsed, type(default)) else default


def _mode_or(value: Any, default: ChannelMode) -> ChannelMode:
    try:
        return ChannelMode(value)
    except ValueError:
        log.warning("ignoring unknown channel mode %r in settings", value)
        return default


class SqliteSettingsRepository:
    """Per-server / per-channel settings and a small key/value store."""

    def __init__(self, db: aiosqlite.Connection, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._clock = clock

    def _now(self) -> datetime:
        return as_utc(self._clock())

    async def _server_settings(self, platform: str, server_id: str) -> ServerSettings:
        row = await fetch_one(
            self._db,
            "SELECT default_mode, modlog_channel_id, cooldown_s, author_cooldown_s, hourly_cap, disabled_packs,"
            " moderator_role_id, extra FROM server_settings WHERE platform = ? AND server_id = ?",
            (platform, server_id),
        )
        defaults = ServerSettings(platform=platform, server_id=server_id)
        if row is None:
            return defaults
        packs = _json_or(row["disabled_packs"], [], "disabled_packs")
        return ServerSettings(
            platform=platform,
            server_id=server_id,
            default_mode=_mode_or(row["default_mode"], defaults.default_mode),
            modlog_channel_id=row["modlog_channel_id"],
            cooldown=timedelta(seconds=row["cooldown_s"]) if row["cooldown_s"] is not None else defaults.cooldown,
            author_cooldown=(
                timedelta(seconds=row["author_cooldown_s"])
                if row["author_cooldown_s"] is not None
                else defaults.author_cooldown
            ),
            hourly_cap=int(row["hourly_cap"]) if row["hourly_cap"] is not None else defaults.hourly_cap,
            disabled_packs=tuple(str(p) for p in packs),
            moderator_role_id=row["moderator_role_id"],
            extra=_json_or(row["extra"], {}, "extra"),
        )

    async def get_server_settings(self, platform: str, server_id: str) -> ServerSettings:
        async with locked(self._db):
            return await self._server_settings(platform, server_id)

    async def save_server_settings(self, settings: ServerSettings) -> None:
        disabled = json.dumps([str(p) for p in settings.disabled_packs])
        extra = json.dumps(dict(settings.extra or {}))  # TypeError for values JSON cannot represent
        async with write_transaction(self._db):
            await execute(
                self._db,
                "INSERT INTO server_settings (platform, server_id, default_mode, modlog_channel_id, cooldown_s,"
                " author_cooldown_s, hourly_cap, disabled_packs, moderator_role_id, extra, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (platform, server_id) DO UPDATE SET"
                " default_mode = excluded.default_mode, modlog_channel_id = excluded.modlog_channel_id,"
                " cooldown_s = excluded.cooldown_s, author_cooldown_s = excluded.author_cooldown_s,"
                " hourly_cap = excluded.hourly_cap, disabled_packs = excluded.disabled_packs,"
                " moderator_role_id = excluded.moderator_role_id, extra = excluded.extra,"
                " updated_at = excluded.updated_at",
                (
                    settings.platform,
                    settings.server_id,
                    ChannelMode(settings.default_mode),
                    settings.modlog_channel_id,
                    settings.cooldown.total_seconds(),
                    settings.author_cooldown.total_seconds(),
                    int(settings.hourly_cap),
                    disabled,
                    settings.moderator_role_id,
                    extra,
                    self._now(),
                ),
            )
            await publish_change(self._db, "server_settings", settings.platform, settings.server_id)

    async def get_channel_mode(self, platform: str, server_id: str, channel_id: str) -> ChannelMode:
        async with locked(self._db):
            server_default = (await self._server_settings(platform, server_id)).default_mode
            row = await fetch_one(
                self._db,
                "SELECT mode FROM channel_settings WHERE platform = ? AND channel_id = ?",
                (platform, channel_id),
            )
        if row is None:
            return server_default
        return _mode_or(row["mode"], server_default)

    async def set_channel_mode(self, platform: str, server_id: str, channel_id: str, mode: ChannelMode) -> None:
        async with write_transaction(self._db):
            await execute(
                self._db,
                "INSERT INTO channel_settings (platform, server_id, channel_id, mode, updated_at)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (platform, channel_id) DO UPDATE SET"
                " server_id = excluded.server_id, mode = excluded.mode, updated_at = excluded.updated_at",
                (platform, server_id, channel_id, ChannelMode(mode), self._now()),
            )
            await publish_change(self._db, "channel_mode", platform, server_id, channel_id)

    async def get_value(self, key: str) -> str | None:
        async with locked(self._db):
            row = await fetch_one(self._db, "SELECT value FROM kv WHERE key = ?", (key,))
        return row["value"] if row else None

    async def set_value(self, key: str, value: str) -> None:
        async with write_transaction(self._db):
            await execute(
                self._db,
                "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (key, value, self._now()),
            )


__all__ = ["SqliteSettingsRepository"]


class CachingSettingsRepository:
    """Wraps a settings repository with a short-lived in-process cache for the per-message reads.

    Every message needs its channel mode and server settings; reading them from SQLite each time costs two
    round trips. Writes through this wrapper invalidate at once; writes by *another* process sharing the
    database are seen within ``ttl`` seconds.
    """

    def __init__(self, inner: SqliteSettingsRepository, *, ttl: float = 5.0,
                 monotonic: Callable[[], float] | None = None) -> None:
        import time

        self._inner = inner
        self._ttl = ttl
        self._mono = monotonic or time.monotonic
        self._servers: dict[tuple[str, str], tuple[float, ServerSettings]] = {}
        self._modes: dict[tuple[str, str, str], tuple[float, ChannelMode]] = {}

    async def get_server_settings(self, platform: str, server_id: str) -> ServerSettings:
        key = (platform, server_id)
        hit = self._servers.get(key)
        if hit is not None and self._mono() - hit[0] < self._ttl:
            return hit[1]
        value = await self._inner.get_server_settings(platform, server_id)
        self._servers[key] = (self._mono(), value)
        return value

    async def get_channel_mode(self, platform: str, server_id: str, channel_id: str) -> ChannelMode:
        key = (platform, server_id, channel_id)
        hit = self._modes.get(key)
        if hit is not None and self._mono() - hit[0] < self._ttl:
            return hit[1]
        value = await self._inner.get_channel_mode(platform, server_id, channel_id)
        self._modes[key] = (self._mono(), value)
        return value

    async def save_server_settings(self, settings: ServerSettings) -> None:
        await self._inner.save_server_settings(settings)
        self._servers.pop((settings.platform, settings.server_id), None)
        self._modes.clear()  # channel modes fall back to the server default

    async def set_channel_mode(self, platform: str, server_id: str, channel_id: str, mode: ChannelMode) -> None:
        await self._inner.set_channel_mode(platform, server_id, channel_id, mode)
        self._modes = {k: v for k, v in self._modes.items() if not (k[0] == platform and k[2] == channel_id)}

    def invalidate(self) -> None:
        """Forget everything cached (another process changed settings: see bot/storage/changes.py)."""
        self._servers.clear()
        self._modes.clear()

    async def get_value(self, key: str) -> str | None:
        return await self._inner.get_value(key)

    async def set_value(self, key: str, value: str) -> None:
        await self._inner.set_value(key, value)

    def __getattr__(self, name: str):  # anything else the inner repository offers
        return getattr(self._inner, name)
