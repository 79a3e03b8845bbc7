"""Stored campaigns (migration 0008), behind :class:`bot.core.ports.CampaignRepository`.

A campaign's messages keep their text only as long as incident text is kept: deleting a message, the retention
sweep and a member purge null it here too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Sequence

import aiosqlite

from ..core.campaigns import Sighting
from ..core.models import Action, Stance
from ..core.ports import CampaignRecord
from ._common import as_utc, execute, fetch_all, fetch_one, from_db_time, locked, utcnow, write_transaction

_SELECT = ("SELECT c.*, (SELECT COUNT(*) FROM campaign_messages m WHERE m.campaign_id = c.id) AS n_messages,"
           " (SELECT COUNT(DISTINCT author_id) FROM campaign_messages m WHERE m.campaign_id = c.id) AS n_authors"
           " FROM campaigns c")


def _record(r: dict[str, Any]) -> CampaignRecord:
    return CampaignRecord(
        id=r["id"], platform=r["platform"], server_id=r["server_id"], kind=r["kind"],
        talking_point_id=r["talking_point_id"], status=r["status"], first_at=from_db_time(r["first_at"]),
        last_at=from_db_time(r["last_at"]), message_count=int(r["n_messages"]), author_count=int(r["n_authors"]),
        alert_channel_id=r["alert_channel_id"], alert_message_id=r["alert_message_id"],
        resolved_by=r["resolved_by"], resolved_at=from_db_time(r["resolved_at"]),
    )


class SqliteCampaignRepository:
    def __init__(self, db: aiosqlite.Connection, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def _insert_members(self, campaign_id: int, members: Sequence[Sighting]) -> None:
        for m in members:
            await execute(
                self._db,
                "INSERT OR IGNORE INTO campaign_messages (campaign_id, channel_id, message_id, author_id, content,"
                " link, stance, incident_id, author_created_at, author_joined_at, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (campaign_id, m.channel_id, m.message_id, m.author_id, m.text, m.link,
                 m.stance.value if m.stance else None, m.incident_id, m.author_created_at, m.author_joined_at,
                 as_utc(m.at)),
            )
        if members:
            last = as_utc(max(m.at for m in members))
            await execute(self._db, "UPDATE campaigns SET last_at = CASE WHEN last_at < ? THEN ? ELSE last_at END WHERE id = ?",
                          (last, last, campaign_id))

    async def create_campaign(self, platform: str, server_id: str, kind: str, talking_point_id: str | None,
                              members: Sequence[Sighting]) -> CampaignRecord:
        first = min(m.at for m in members)
        async with write_transaction(self._db):
            row = await fetch_one(
                self._db,
                "INSERT INTO campaigns (platform, server_id, kind, talking_point_id, first_at, last_at, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (platform, server_id, kind, talking_point_id, as_utc(first), as_utc(first), as_utc(self._clock())),
            )
            assert row is not None
            await self._insert_members(row["id"], members)
        rec = await self.get_campaign(row["id"])
        assert rec is not None
        return rec

    async def add_members(self, campaign_id: int, members: Sequence[Sighting]) -> CampaignRecord | None:
        async with write_transaction(self._db):
            await self._insert_members(campaign_id, members)
        return await self.get_campaign(campaign_id)

    async def get_campaign(self, campaign_id: int) -> CampaignRecord | None:
        async with locked(self._db):
            row = await fetch_one(self._db, f"{_SELECT} WHERE c.id = ?", (campaign_id,))
        return _record(row) if row else None

    async def campaign_members(self, campaign_id: int) -> list[Sighting]:
        async with locked(self._db):
            c = await fetch_one(self._db, "SELECT platform, server_id, talking_point_id FROM campaigns WHERE id = ?",
                                (campaign_id,))
            rows = await fetch_all(self._db, "SELECT * FROM campaign_messages WHERE campaign_id = ? ORDER BY at, rowid",
                                   (campaign_id,))
        if c is None:
            return []
        return [Sighting(
            platform=c["platform"], server_id=c["server_id"], channel_id=r["channel_id"], message_id=r["message_id"],
            author_id=r["author_id"], at=from_db_time(r["at"]), text=r["content"] or "", link=r["link"],
            talking_point_id=c["talking_point_id"], stance=Stance(r["stance"]) if r["stance"] else None,
            action=Action.NONE, author_created_at=from_db_time(r["author_created_at"]),
            author_joined_at=from_db_time(r["author_joined_at"]), incident_id=r["incident_id"],
        ) for r in rows]

    async def list_campaigns(self, platform: str | None = None, server_id: str | None = None,
                             status: str | None = None, limit: int = 50) -> list[CampaignRecord]:
        clauses, params = [], []
        for col, val in (("platform", platform), ("server_id", server_id), ("status", status)):
            if val is not None:
                clauses.append(f"c.{col} = ?")
                params.append(val)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        async with locked(self._db):
            rows = await fetch_all(self._db, f"{_SELECT}{where} ORDER BY c.last_at DESC, c.id DESC LIMIT ?",
                                   (*params, limit))
        return [_record(r) for r in rows]

    async def set_alert_post(self, campaign_id: int, channel_id: str, message_id: str) -> None:
        async with write_transaction(self._db):
            await execute(self._db, "UPDATE campaigns SET alert_channel_id = ?, alert_message_id = ? WHERE id = ?",
                          (channel_id, message_id, campaign_id))

    async def campaign_by_alert(self, platform: str, message_id: str) -> CampaignRecord | None:
        async with locked(self._db):
            row = await fetch_one(self._db, f"{_SELECT} WHERE c.platform = ? AND c.alert_message_id = ?",
                                  (platform, message_id))
        return _record(row) if row else None

    async def resolve_campaign(self, campaign_id: int, status: str, reviewer: str) -> CampaignRecord | None:
        async with write_transaction(self._db):
            await execute(self._db, "UPDATE campaigns SET status = ?, resolved_by = ?, resolved_at = ? WHERE id = ?",
                          (status, reviewer, as_utc(self._clock()), campaign_id))
        return await self.get_campaign(campaign_id)

    async def _purge(self, where: str, params: tuple[Any, ...]) -> int:
        async with write_transaction(self._db):
            cur = await execute(self._db, f"UPDATE campaign_messages SET content = NULL WHERE content IS NOT NULL"
                                f" AND {where}", params)
        return cur.rowcount or 0

    async def purge_message_content(self, platform: str, channel_id: str, message_id: str) -> int:
        return await self._purge("channel_id = ? AND message_id = ? AND campaign_id IN"
                                 " (SELECT id FROM campaigns WHERE platform = ?)", (channel_id, message_id, platform))

    async def purge_author_content(self, platform: str, author_id: str) -> int:
        return await self._purge("author_id = ? AND campaign_id IN (SELECT id FROM campaigns WHERE platform = ?)",
                                 (author_id, platform))

    async def purge_content_before(self, cutoff: datetime) -> int:
        return await self._purge("at < ?", (as_utc(cutoff),))
