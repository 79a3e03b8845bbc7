"""The moderator alerts the bot posted (migration 0005), for the alert budget and for editing alerts later.

An alert stands for its first incident (its verdict buttons act on that one) and for every later hit folded into
it: repeats of the same group, or the same talking point in the same channel within the alert window. Platform
neutral: ``alert_message_id`` is a Discord message id or a Matrix event id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable

import aiosqlite

from ._common import as_utc, execute, fetch_all, fetch_one, from_db_time, locked, utcnow, write_transaction

_COLUMNS = ("id, platform, server_id, alert_channel_id, alert_message_id, incident_id, group_id, talking_point_id,"
            " source_channel_id, last_incident_id, content_removed, created_at, updated_at")


@dataclass(frozen=True)
class AlertPost:
    id: int
    platform: str
    server_id: str
    alert_channel_id: str
    alert_message_id: str
    incident_id: int  # the first incident
    group_id: int
    talking_point_id: str
    source_channel_id: str
    last_incident_id: int  # the latest hit folded in (the first incident while there is none)
    content_removed: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class AlertSummary:
    hits: int  # incidents the alert stands for, the first included
    accounts: int  # distinct authors among them


def _row(r: dict[str, Any]) -> AlertPost:
    return AlertPost(
        id=r["id"], platform=r["platform"], server_id=r["server_id"], alert_channel_id=r["alert_channel_id"],
        alert_message_id=r["alert_message_id"], incident_id=r["incident_id"], group_id=r["group_id"],
        talking_point_id=r["talking_point_id"], source_channel_id=r["source_channel_id"],
        last_incident_id=r["last_incident_id"], content_removed=bool(r["content_removed"]),
        created_at=from_db_time(r["created_at"]), updated_at=from_db_time(r["updated_at"]),
    )


class SqliteAlertRepository:
    def __init__(self, db: aiosqlite.Connection, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._clock = clock

    def _now(self) -> datetime:
        return as_utc(self._clock())

    async def _one(self, where: str, params: tuple[Any, ...]) -> AlertPost | None:
        async with locked(self._db):
            row = await fetch_one(self._db, f"SELECT {_COLUMNS} FROM alert_posts WHERE {where}", params)
        return _row(row) if row else None

    async def fold_target(self, platform: str, server_id: str, group_id: int, talking_point_id: str,
                          source_channel_id: str, since: datetime) -> AlertPost | None:
        """The newest alert a new incident should update instead of posting its own: one for the same group, or
        for the same talking point in the same channel posted since ``since``; only while its first incident is
        still open (after a verdict, a new hit gets a new alert)."""
        return await self._one(
            "platform = ? AND server_id = ?"
            " AND (group_id = ? OR (talking_point_id = ? AND source_channel_id = ? AND created_at >= ?))"
            " AND EXISTS (SELECT 1 FROM incidents i WHERE i.id = alert_posts.incident_id AND i.status = 'open')"
            " ORDER BY id DESC LIMIT 1",
            (platform, server_id, group_id, talking_point_id, source_channel_id, as_utc(since)),
        )

    async def by_message(self, platform: str, alert_message_id: str) -> AlertPost | None:
        return await self._one("platform = ? AND alert_message_id = ?", (platform, alert_message_id))

    async def latest_in_channel(self, platform: str, server_id: str, source_channel_id: str,
                                since: datetime) -> AlertPost | None:
        """The newest alert for ``source_channel_id`` posted since ``since`` (any talking point)."""
        return await self._one(
            "platform = ? AND server_id = ? AND source_channel_id = ? AND created_at >= ? ORDER BY id DESC LIMIT 1",
            (platform, server_id, source_channel_id, as_utc(since)),
        )

    async def count_since(self, platform: str, server_id: str, source_channel_id: str, since: datetime) -> int:
        """New alerts posted for ``source_channel_id`` since ``since`` (the hourly cap)."""
        async with locked(self._db):
            row = await fetch_one(
                self._db,
                "SELECT COUNT(*) AS n FROM alert_posts"
                " WHERE platform = ? AND server_id = ? AND source_channel_id = ? AND created_at >= ?",
                (platform, server_id, source_channel_id, as_utc(since)),
            )
        return int(row["n"]) if row else 0

    async def record(self, platform: str, server_id: str, alert_channel_id: str, alert_message_id: str, *,
                     incident_id: int, group_id: int, talking_point_id: str, source_channel_id: str) -> AlertPost:
        now = self._now()
        async with write_transaction(self._db):
            row = await fetch_one(
                self._db,
                "INSERT INTO alert_posts (platform, server_id, alert_channel_id, alert_message_id, incident_id,"
                " group_id, talking_point_id, source_channel_id, last_incident_id, created_at, updated_at)"
                f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
                (platform, server_id, alert_channel_id, alert_message_id, incident_id, group_id, talking_point_id,
                 source_channel_id, incident_id, now, now),
            )
            assert row is not None
            await execute(self._db, "INSERT OR IGNORE INTO alert_incidents (alert_id, incident_id) VALUES (?, ?)",
                          (row["id"], incident_id))
        return _row(row)

    async def add_hit(self, alert_id: int, incident_id: int) -> AlertPost | None:
        """Fold ``incident_id`` into the alert (it becomes the latest hit)."""
        now = self._now()
        async with write_transaction(self._db):
            await execute(self._db, "INSERT OR IGNORE INTO alert_incidents (alert_id, incident_id) VALUES (?, ?)",
                          (alert_id, incident_id))
            row = await fetch_one(
                self._db,
                "UPDATE alert_posts SET last_incident_id = ?, content_removed = 0, updated_at = ? WHERE id = ?"
                f" RETURNING {_COLUMNS}",
                (incident_id, now, alert_id),
            )
        return _row(row) if row else None

    async def summary(self, alert_id: int) -> AlertSummary:
        async with locked(self._db):
            row = await fetch_one(
                self._db,
                "SELECT COUNT(*) AS hits, COUNT(DISTINCT i.author_id) AS accounts FROM alert_incidents a"
                " JOIN incidents i ON i.id = a.incident_id WHERE a.alert_id = ?",
                (alert_id,),
            )
        return AlertSummary(int(row["hits"]), int(row["accounts"])) if row else AlertSummary(0, 0)

    async def alerts_for_incidents(self, incident_ids: Iterable[int]) -> list[AlertPost]:
        """Alerts that show one of these incidents (as first incident or latest hit)."""
        ids = sorted({int(i) for i in incident_ids})
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        async with locked(self._db):
            rows = await fetch_all(
                self._db,
                f"SELECT {_COLUMNS} FROM alert_posts WHERE incident_id IN ({marks}) OR last_incident_id IN ({marks})"
                " ORDER BY id",
                (*ids, *ids),
            )
        return [_row(r) for r in rows]

    async def with_purged_excerpts(self, platform: str, limit: int = 50) -> list[AlertPost]:
        """Alerts still showing an excerpt whose content was purged since (retention, or a missed delete)."""
        async with locked(self._db):
            rows = await fetch_all(
                self._db,
                f"SELECT {_COLUMNS} FROM alert_posts WHERE platform = ? AND content_removed = 0 AND"
                " EXISTS (SELECT 1 FROM incidents i WHERE i.id IN (alert_posts.incident_id,"
                " alert_posts.last_incident_id) AND i.content IS NULL) ORDER BY id LIMIT ?",
                (platform, limit),
            )
        return [_row(r) for r in rows]

    async def mark_content_removed(self, alert_id: int) -> None:
        async with write_transaction(self._db):
            await execute(self._db, "UPDATE alert_posts SET content_removed = 1, updated_at = ? WHERE id = ?",
                          (self._now(), alert_id))
