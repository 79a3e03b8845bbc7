"""Storage of emerging narratives (SQLite, and PostgreSQL through bot.storage.pg) (migration 0009): cluster centres and their member messages.

Privacy as for incidents: member text is kept only within retention (:meth:`purge_content_before` sets it to
NULL) and the user/channel/server purges delete the members outright. Counts, server ids and times stay (no text)
until the whole cluster is forgotten.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable

import aiosqlite
import numpy as np

from ..core.ports import NarrativeCluster, NarrativeMember, NewNarrativeMember
from ._common import (Scope, execute, fetch_all, fetch_one, from_db_time, locked, scope_clause, to_db_time, utcnow,
                      write_transaction)

MAX_MEMBER_CHARS = 2000


def _member(r: dict[str, Any]) -> NarrativeMember:
    return NarrativeMember(
        id=int(r["id"]), cluster_id=int(r["cluster_id"]), platform=r["platform"], server_id=r["server_id"],
        channel_id=r["channel_id"], message_id=r["message_id"], author_id=r["author_id"], lang=r["lang"],
        content=r["content"], similarity=float(r["similarity"]), p_assert=float(r["p_assert"]),
        created_at=from_db_time(r["created_at"]),
    )


class SqliteNarrativeRepository:
    """:class:`bot.core.ports.NarrativeRepository` on SQLite."""

    def __init__(self, db: aiosqlite.Connection, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def create_cluster(self, centre: np.ndarray) -> int:
        now = to_db_time(self._clock())
        async with write_transaction(self._db):
            row = await fetch_one(self._db, "INSERT INTO narrative_clusters (centre, size, created_at, updated_at) "
                                  "VALUES (?, 0, ?, ?) RETURNING id", (np.asarray(centre, np.float32).tobytes(), now, now))
            assert row is not None
            return int(row["id"])

    async def add_member(self, m: NewNarrativeMember, centre: np.ndarray | None = None) -> int:
        now = self._clock()
        content = m.content[:MAX_MEMBER_CHARS] if m.content else None
        async with write_transaction(self._db):
            # a cluster purged while its centre was still in memory comes back under the same id
            await execute(self._db, "INSERT OR IGNORE INTO narrative_clusters (id, centre, size, created_at, updated_at)"
                          " VALUES (?, ?, 0, ?, ?)", (m.cluster_id, np.asarray(
                              centre if centre is not None else np.zeros(1), np.float32).tobytes(),
                              to_db_time(now), to_db_time(now)))
            row = await fetch_one(
                self._db,
                "INSERT INTO narrative_members (cluster_id, platform, server_id, channel_id, message_id, author_id, "
                "lang, content, similarity, p_assert, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
                (m.cluster_id, m.platform, m.server_id, m.channel_id, m.message_id, m.author_id, m.lang, content,
                 m.similarity, m.p_assert, to_db_time(m.created_at or now)))
            if centre is not None:
                await execute(self._db, "UPDATE narrative_clusters SET size = size + 1, updated_at = ?, centre = ? "
                              "WHERE id = ?", (to_db_time(now), np.asarray(centre, np.float32).tobytes(),
                                               m.cluster_id))
            else:
                await execute(self._db, "UPDATE narrative_clusters SET size = size + 1, updated_at = ? WHERE id = ?",
                              (to_db_time(now), m.cluster_id))
            assert row is not None
            return int(row["id"])

    async def centres(self, limit: int = 2048) -> list[tuple[int, np.ndarray, int]]:
        """The most recently updated centres (to restore the in-memory clusterer after a restart)."""
        async with locked(self._db):
            rows = await fetch_all(self._db, "SELECT id, centre, size FROM narrative_clusters "
                                   "ORDER BY updated_at DESC LIMIT ?", (limit,))
        return [(int(r["id"]), np.frombuffer(r["centre"], dtype=np.float32), int(r["size"])) for r in rows]

    async def list_clusters(self, *, since: datetime | None = None, min_servers: int = 1, limit: int = 50,
                            scope: Scope = None, min_members: int = 1) -> list[NarrativeCluster]:
        """Clusters with members since ``since`` (default: 7 days ago) in at least ``min_servers`` servers, sorted by
        growth: servers in the window, then members in the window, then the latest member. ``min_members``: at least
        that many members in the window.

        ``scope`` ("platform:server_id" keys; None = all servers): only clusters with a member in the window in one
        of those servers, and representatives from those servers only (the counts stay cross-server)."""
        since = since or (self._clock() - timedelta(days=7))
        params: list[Any] = [to_db_time(since)]
        where = ""
        if scope is not None:
            clauses: list[str] = []
            scope_clause(scope, clauses, params, prefix="s.")
            where = (" AND EXISTS (SELECT 1 FROM narrative_members s WHERE s.cluster_id = c.id AND s.created_at >= ?"
                     f" AND {clauses[0]})")
            params.insert(1, to_db_time(since))
        params += [min_servers, min_members, limit]
        async with locked(self._db):
            rows = await fetch_all(
                self._db,
                "SELECT c.id, c.size, c.created_at, MAX(m.created_at) AS last_at, COUNT(*) AS recent,"
                " COUNT(DISTINCT m.platform || ':' || m.server_id) AS servers"
                " FROM narrative_clusters c JOIN narrative_members m ON m.cluster_id = c.id"
                f" WHERE m.created_at >= ?{where} GROUP BY c.id, c.size, c.created_at"
                " HAVING COUNT(DISTINCT m.platform || ':' || m.server_id) >= ? AND COUNT(*) >= ?"
                " ORDER BY servers DESC, recent DESC, last_at DESC LIMIT ?", params)
            return [await self._cluster(r, scope) for r in rows]

    async def _cluster(self, r: dict[str, Any], scope: Scope = None) -> NarrativeCluster:
        per = await fetch_all(self._db, "SELECT platform || ':' || server_id AS s, COUNT(*) AS n FROM narrative_members"
                              " WHERE cluster_id = ? GROUP BY platform || ':' || server_id ORDER BY n DESC", (r["id"],))
        clauses: list[str] = ["cluster_id = ?"]
        params: list[Any] = [r["id"]]
        scope_clause(scope, clauses, params)
        # the members nearest the centre, those whose text is still kept first
        reps = await fetch_all(self._db, "SELECT * FROM narrative_members WHERE " + " AND ".join(clauses) +
                               " ORDER BY CASE WHEN content IS NULL THEN 1 ELSE 0 END, similarity DESC,"
                               " created_at DESC LIMIT 3", params)
        return NarrativeCluster(
            id=int(r["id"]), size=int(r["size"]), recent=int(r.get("recent", r["size"])),
            servers={p["s"]: int(p["n"]) for p in per}, created_at=from_db_time(r["created_at"]),
            last_at=from_db_time(r.get("last_at")), representatives=tuple(_member(x) for x in reps))

    async def get_cluster(self, cluster_id: int, *, scope: Scope = None) -> NarrativeCluster | None:
        """One cluster (None when unknown, or when ``scope`` is given and none of its members is in it)."""
        async with locked(self._db):
            r = await fetch_one(self._db, "SELECT c.id, c.size, c.created_at, MAX(m.created_at) AS last_at,"
                                " COUNT(m.id) AS recent FROM narrative_clusters c LEFT JOIN narrative_members m"
                                " ON m.cluster_id = c.id WHERE c.id = ? GROUP BY c.id, c.size, c.created_at",
                                (cluster_id,))
            if r is None:
                return None
            c = await self._cluster(r, scope)
        if scope is not None and not any(k in c.servers for k in scope):
            return None
        return c

    async def members(self, cluster_id: int, limit: int = 200, *, scope: Scope = None) -> list[NarrativeMember]:
        """Members nearest the centre first (only those in ``scope``'s servers when given)."""
        clauses: list[str] = ["cluster_id = ?"]
        params: list[Any] = [cluster_id]
        scope_clause(scope, clauses, params)
        async with locked(self._db):
            rows = await fetch_all(self._db, "SELECT * FROM narrative_members WHERE " + " AND ".join(clauses) +
                                   " ORDER BY similarity DESC, created_at DESC LIMIT ?", [*params, limit])
        return [_member(r) for r in rows]

    # ------------------------------------------------------------------------------------------- purges

    async def purge_content_before(self, cutoff: datetime) -> int:
        """Retention: drop the text of members older than ``cutoff`` (counts stay)."""
        async with write_transaction(self._db):
            cur = await execute(self._db, "UPDATE narrative_members SET content = NULL, content_purged_at = ?"
                                " WHERE content IS NOT NULL AND created_at < ?",
                                (to_db_time(self._clock()), to_db_time(cutoff)))
            return cur.rowcount

    async def purge_message(self, platform: str, channel_id: str, message_id: str) -> int:
        return await self._delete("platform = ? AND channel_id = ? AND message_id = ?",
                                  (platform, channel_id, message_id))

    async def purge_user(self, platform: str, author_id: str) -> int:
        return await self._delete("platform = ? AND author_id = ?", (platform, author_id))

    async def purge_channel(self, platform: str, channel_id: str) -> int:
        return await self._delete("platform = ? AND channel_id = ?", (platform, channel_id))

    async def purge_server(self, platform: str, server_id: str) -> int:
        return await self._delete("platform = ? AND server_id = ?", (platform, server_id))

    async def _delete(self, where: str, params: tuple[Any, ...]) -> int:
        """Delete matching members, fix the sizes of their clusters and drop clusters left empty."""
        async with write_transaction(self._db):
            hit = await fetch_all(self._db, f"SELECT cluster_id, COUNT(*) AS n FROM narrative_members WHERE {where}"
                                  " GROUP BY cluster_id", params)
            cur = await execute(self._db, f"DELETE FROM narrative_members WHERE {where}", params)
            for h in hit:
                await execute(self._db, "UPDATE narrative_clusters SET size = CASE WHEN size > ? THEN size - ? ELSE 0 END"
                              " WHERE id = ?", (h["n"], h["n"], h["cluster_id"]))
            for h in hit:  # a cluster whose every member was purged is forgotten (its centre came from them)
                await execute(self._db, "DELETE FROM narrative_clusters WHERE id = ? AND size = 0", (h["cluster_id"],))
            return cur.rowcount
