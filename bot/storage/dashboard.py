"""SQLite storage for the moderators' dashboard (migrations 0002 and 0005): learned exemplars, point policies,
audit log, login sessions, and the read-only statistics the dashboard shows.

* Access scope: every statistics/listing method takes ``scope`` — ``None`` for every server, otherwise a
  sequence of ``"platform:server_id"`` keys (an empty sequence matches nothing). Matching is exact on the pair.
* Exemplars: one *active* exemplar per incident. A changed verdict retires the old row (``active = 0``)
  before the new one is written, so :meth:`active_exemplars` is what the detector should know.
* Point policies: ``platform = server_id = ''`` is the global policy for a talking point.
* Times are stored with the ``_common`` helpers (fixed-width UTC text); values read back are aware UTC.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

import aiosqlite

from ..core.ports import server_key
from ._common import (Scope, as_utc, execute, fetch_all, fetch_one, from_db_time, locked,
    publish_change, scope_clause, utcnow,
                      write_transaction)


SESSION_KEEP_DAYS = 30  # a login is remembered this long after it expires (see logged_in_from)


@dataclass(frozen=True)
class ServerExemplar:
    id: int
    platform: str
    server_id: str
    talking_point_id: str
    text: str
    lang: str
    positive: bool
    incident_id: int | None
    created_by: str
    created_at: datetime
    active: bool = True
    retired_at: datetime | None = None
    promoted: bool = False
    promoted_stance: str | None = None
    promoted_by: str | None = None
    promoted_at: datetime | None = None
    embedding: bytes | None = None  # float32 sentence embedding (what the detector uses); kept after a purge
    text_purged_at: datetime | None = None  # the source message's content was purged: ``text`` is ""


@dataclass(frozen=True)
class PolicyRecord:
    platform: str  # "" for the global policy
    server_id: str  # "" for the global policy
    talking_point_id: str
    reply_threshold: float | None
    review_only: bool
    updated_by: str
    updated_at: datetime

    @property
    def is_global(self) -> bool:
        return not self.platform and not self.server_id


@dataclass(frozen=True)
class AuditEntry:
    id: int
    created_at: datetime
    actor: str
    action: str
    incident_id: int | None
    platform: str | None
    server_id: str | None
    detail: dict


@dataclass(frozen=True)
class PointStats:
    """Counts for one talking point (optionally one server) within an access scope."""

    talking_point_id: str
    total: int = 0
    open: int = 0
    confirmed: int = 0
    false_positive: int = 0
    dismissed: int = 0
    reply: int = 0  # detector decided "reply" (recorded even where no card was posted)
    review: int = 0
    reply_confirmed: int = 0
    reply_false_positive: int = 0
    platform: str = ""
    server_id: str = ""

    @property
    def reply_judged(self) -> int:
        return self.reply_confirmed + self.reply_false_positive

    @property
    def precision(self) -> float | None:
        """Shadow-mode precision: of the detector's 'reply' decisions moderators judged, the share confirmed."""
        n = self.reply_judged
        return self.reply_confirmed / n if n else None


_EXEMPLAR_COLUMNS = (
    "id, platform, server_id, talking_point_id, text, lang, positive, incident_id, created_by, created_at, active,"
    " retired_at, promoted, promoted_stance, promoted_by, promoted_at, embedding, text_purged_at"
)

_STATS_SELECT = (
    "COUNT(*) AS total,"
    " COALESCE(SUM(status = 'open'), 0) AS open,"
    " COALESCE(SUM(status = 'confirmed'), 0) AS confirmed,"
    " COALESCE(SUM(status = 'false_positive'), 0) AS false_positive,"
    " COALESCE(SUM(status = 'dismissed'), 0) AS dismissed,"
    " COALESCE(SUM(action = 'reply'), 0) AS reply,"
    " COALESCE(SUM(action = 'review'), 0) AS review,"
    " COALESCE(SUM(action = 'reply' AND status = 'confirmed'), 0) AS reply_confirmed,"
    " COALESCE(SUM(action = 'reply' AND status = 'false_positive'), 0) AS reply_false_positive"
)


def _row_to_exemplar(r: dict[str, Any]) -> ServerExemplar:
    return ServerExemplar(
        id=r["id"], platform=r["platform"], server_id=r["server_id"], talking_point_id=r["talking_point_id"],
        text=r["text"], lang=r["lang"] or "", positive=bool(r["positive"]), incident_id=r["incident_id"],
        created_by=r["created_by"], created_at=from_db_time(r["created_at"]),  # type: ignore[arg-type]
        active=bool(r["active"]), retired_at=from_db_time(r["retired_at"]), promoted=bool(r["promoted"]),
        promoted_stance=r["promoted_stance"], promoted_by=r["promoted_by"],
        promoted_at=from_db_time(r["promoted_at"]),
        embedding=bytes(r["embedding"]) if r["embedding"] is not None else None,
        text_purged_at=from_db_time(r["text_purged_at"]),
    )


def _row_to_policy(r: dict[str, Any]) -> PolicyRecord:
    return PolicyRecord(
        platform=r["platform"], server_id=r["server_id"], talking_point_id=r["talking_point_id"],
        reply_threshold=float(r["reply_threshold"]) if r["reply_threshold"] is not None else None,
        review_only=bool(r["review_only"]), updated_by=r["updated_by"],
        updated_at=from_db_time(r["updated_at"]),  # type: ignore[arg-type]
    )


def _row_to_stats(tp: str, r: dict[str, Any] | None, platform: str = "", server_id: str = "") -> PointStats:
    if r is None:
        return PointStats(tp, platform=platform, server_id=server_id)
    return PointStats(
        talking_point_id=tp, total=int(r["total"]), open=int(r["open"]), confirmed=int(r["confirmed"]),
        false_positive=int(r["false_positive"]), dismissed=int(r["dismissed"]), reply=int(r["reply"]),
        review=int(r["review"]), reply_confirmed=int(r["reply_confirmed"]),
        reply_false_positive=int(r["reply_false_positive"]), platform=platform, server_id=server_id,
    )


def _where(clauses: list[str]) -> str:
    return (" WHERE " + " AND ".join(clauses)) if clauses else ""


class SqliteDashboardRepository:
    """Learned exemplars, point policies, the audit log and dashboard statistics."""

    def __init__(self, db: aiosqlite.Connection, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._clock = clock

    def _now(self) -> datetime:
        return as_utc(self._clock())

    # ------------------------------------------------------------------------------------ exemplars

    async def _exemplar(self, exemplar_id: int) -> ServerExemplar | None:
        row = await fetch_one(self._db, f"SELECT {_EXEMPLAR_COLUMNS} FROM server_exemplars WHERE id = ?",
                              (exemplar_id,))
        return _row_to_exemplar(row) if row else None

    async def replace_incident_exemplar(
        self, *, platform: str, server_id: str, talking_point_id: str, text: str | None, lang: str,
        positive: bool | None, incident_id: int, created_by: str, embedding: bytes | None = None,
    ) -> tuple[ServerExemplar | None, list[ServerExemplar]]:
        """Retire the incident's active exemplar(s) and, unless ``positive`` is None or ``text`` is empty,
        store a new one (with its ``embedding``, if given). Returns (new exemplar or None, retired exemplars)."""
        now = self._now()
        async with write_transaction(self._db):
            rows = await fetch_all(
                self._db,
                f"SELECT {_EXEMPLAR_COLUMNS} FROM server_exemplars WHERE incident_id = ? AND active = 1",
                (incident_id,),
            )
            retired = [_row_to_exemplar(r) for r in rows]
            if retired:
                await execute(
                    self._db,
                    "UPDATE server_exemplars SET active = 0, retired_at = ? WHERE incident_id = ? AND active = 1",
                    (now, incident_id),
                )
            new = None
            if positive is not None and text:
                row = await fetch_one(
                    self._db,
                    "INSERT INTO server_exemplars (platform, server_id, talking_point_id, text, lang, positive,"
                    " incident_id, created_by, created_at, embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " RETURNING id",
                    (platform, server_id, talking_point_id, text, lang or "", bool(positive), incident_id,
                     created_by, now, embedding),
                )
                new = await self._exemplar(row["id"]) if row else None
            await publish_change(self._db, "exemplars", platform, server_id, str(incident_id))
        return new, retired

    async def set_exemplar_embedding(self, exemplar_id: int, embedding: bytes) -> None:
        """Store the vector of an exemplar learned before vectors were kept (back-filled at start-up)."""
        async with locked(self._db):
            await execute(self._db, "UPDATE server_exemplars SET embedding = ? WHERE id = ?", (embedding, exemplar_id))

    async def get_exemplar(self, exemplar_id: int) -> ServerExemplar | None:
        async with locked(self._db):
            return await self._exemplar(exemplar_id)

    async def active_exemplars(self, server_id: str | None = None) -> list[ServerExemplar]:
        """Every active exemplar (or those of one server), oldest first: what the detector should know."""
        clauses, params = ["active = 1"], []
        if server_id is not None:
            clauses.append("server_id = ?")
            params.append(server_id)
        async with locked(self._db):
            rows = await fetch_all(
                self._db, f"SELECT {_EXEMPLAR_COLUMNS} FROM server_exemplars{_where(clauses)} ORDER BY id", params)
        return [_row_to_exemplar(r) for r in rows]

    async def list_exemplars(
        self, scope: Scope, *, talking_point_id: str | None = None, incident_id: int | None = None,
        promoted: bool | None = None, include_retired: bool = False, limit: int = 100, offset: int = 0,
    ) -> list[ServerExemplar]:
        clauses: list[str] = []
        params: list[Any] = []
        scope_clause(scope, clauses, params)
        if not include_retired:
            clauses.append("active = 1")
        for col, val in (("talking_point_id", talking_point_id), ("incident_id", incident_id)):
            if val is not None:
                clauses.append(f"{col} = ?")
                params.append(val)
        if promoted is not None:
            clauses.append("promoted = ?")
            params.append(bool(promoted))
        sql = (f"SELECT {_EXEMPLAR_COLUMNS} FROM server_exemplars{_where(clauses)}"
               " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?")
        async with locked(self._db):
            rows = await fetch_all(self._db, sql, (*params, int(limit), int(offset)))
        return [_row_to_exemplar(r) for r in rows]

    async def count_exemplars(self, scope: Scope, *, include_retired: bool = False) -> int:
        clauses: list[str] = []
        params: list[Any] = []
        scope_clause(scope, clauses, params)
        if not include_retired:
            clauses.append("active = 1")
        async with locked(self._db):
            row = await fetch_one(self._db, f"SELECT COUNT(*) AS n FROM server_exemplars{_where(clauses)}", params)
        return int(row["n"]) if row else 0

    async def set_promoted(self, exemplar_id: int, promoted: bool, by: str, stance: str | None = None
                           ) -> ServerExemplar | None:
        now = self._now()
        async with write_transaction(self._db):
            cur = await execute(
                self._db,
                "UPDATE server_exemplars SET promoted = ?, promoted_stance = ?, promoted_by = ?, promoted_at = ?"
                " WHERE id = ?",
                (bool(promoted), stance if promoted else None, by if promoted else None, now if promoted else None,
                 exemplar_id),
            )
            if cur.rowcount == 0:
                return None
            return await self._exemplar(exemplar_id)

    async def promoted_exemplars(self, scope: Scope = None) -> list[ServerExemplar]:
        clauses, params = ["promoted = 1", "text <> ''"], []  # a purged text cannot go into a pack
        scope_clause(scope, clauses, params)
        async with locked(self._db):
            rows = await fetch_all(
                self._db,
                f"SELECT {_EXEMPLAR_COLUMNS} FROM server_exemplars{_where(clauses)} ORDER BY talking_point_id, id",
                params,
            )
        return [_row_to_exemplar(r) for r in rows]

    # ------------------------------------------------------------------------------------- policies

    async def save_point_policy(
        self, platform: str, server_id: str, talking_point_id: str, reply_threshold: float | None,
        review_only: bool, updated_by: str,
    ) -> PolicyRecord:
        now = self._now()
        async with write_transaction(self._db):
            await execute(
                self._db,
                "INSERT INTO point_policies (platform, server_id, talking_point_id, reply_threshold, review_only,"
                " updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (platform, server_id, talking_point_id) DO UPDATE SET"
                " reply_threshold = excluded.reply_threshold, review_only = excluded.review_only,"
                " updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                (platform, server_id, talking_point_id, reply_threshold, bool(review_only), updated_by, now),
            )
            await publish_change(self._db, "policy", platform, server_id, talking_point_id)
        return PolicyRecord(platform, server_id, talking_point_id, reply_threshold, bool(review_only), updated_by, now)

    async def delete_point_policy(self, platform: str, server_id: str, talking_point_id: str) -> bool:
        async with write_transaction(self._db):
            cur = await execute(
                self._db,
                "DELETE FROM point_policies WHERE platform = ? AND server_id = ? AND talking_point_id = ?",
                (platform, server_id, talking_point_id),
            )
            await publish_change(self._db, "policy", platform, server_id, talking_point_id)
            return cur.rowcount > 0

    async def list_point_policies(self, talking_point_id: str | None = None) -> list[PolicyRecord]:
        clauses: list[str] = []
        params: list[Any] = []
        if talking_point_id is not None:
            clauses.append("talking_point_id = ?")
            params.append(talking_point_id)
        async with locked(self._db):
            rows = await fetch_all(
                self._db,
                "SELECT platform, server_id, talking_point_id, reply_threshold, review_only, updated_by, updated_at"
                f" FROM point_policies{_where(clauses)} ORDER BY talking_point_id, platform, server_id",
                params,
            )
        return [_row_to_policy(r) for r in rows]

    # ---------------------------------------------------------------------------------------- audit

    async def record_audit(
        self, actor: str, action: str, *, incident_id: int | None = None, platform: str | None = None,
        server_id: str | None = None, detail: dict | None = None,
    ) -> None:
        async with write_transaction(self._db):
            await execute(
                self._db,
                "INSERT INTO dashboard_audit (created_at, actor, action, incident_id, platform, server_id, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self._now(), actor, action, incident_id, platform, server_id,
                 json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str)),
            )

    async def list_audit(
        self, scope: Scope = None, *, actor: str | None = None, incident_id: int | None = None,
        action: str | None = None, limit: int = 100, offset: int = 0,
    ) -> list[AuditEntry]:
        """Newest first. With a scope: entries about servers in the scope, plus ``actor``'s own entries."""
        clauses: list[str] = []
        params: list[Any] = []
        if scope is not None:
            sub: list[str] = []
            scope_clause(scope, sub, params)
            if actor is not None:
                sub.append("actor = ?")
                params.append(actor)
            clauses.append("(" + " OR ".join(sub) + ")")
        if incident_id is not None:
            clauses.append("incident_id = ?")
            params.append(incident_id)
        if action is not None:
            clauses.append("action = ?")
            params.append(action)
        async with locked(self._db):
            rows = await fetch_all(
                self._db,
                "SELECT id, created_at, actor, action, incident_id, platform, server_id, detail FROM dashboard_audit"
                f"{_where(clauses)} ORDER BY id DESC LIMIT ? OFFSET ?",
                (*params, int(limit), int(offset)),
            )
        out = []
        for r in rows:
            try:
                detail = json.loads(r["detail"] or "{}")
            except ValueError:
                detail = {}
            out.append(AuditEntry(r["id"], from_db_time(r["created_at"]), r["actor"], r["action"],  # type: ignore[arg-type]
                                  r["incident_id"], r["platform"], r["server_id"],
                                  detail if isinstance(detail, dict) else {}))
        return out

    # ------------------------------------------------------------------------------------- sessions

    async def create_session(self, sid_hash: str, username: str, address: str, expires_at: datetime, *,
                             keep_days: int = SESSION_KEEP_DAYS) -> None:
        """Record a login (and forget sessions that expired more than ``keep_days`` ago)."""
        now = self._now()
        async with write_transaction(self._db):
            await execute(self._db, "DELETE FROM dashboard_sessions WHERE expires_at < ?",
                          (now - timedelta(days=keep_days),))
            await execute(
                self._db,
                "INSERT INTO dashboard_sessions (sid_hash, username, address, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (sid_hash) DO UPDATE SET username = excluded.username,"
                " address = excluded.address, created_at = excluded.created_at, expires_at = excluded.expires_at,"
                " revoked_at = NULL", (sid_hash, username, address or "", now, as_utc(expires_at)))

    async def session_active(self, sid_hash: str) -> bool:
        """True while the session exists, has not expired and was not logged out."""
        async with locked(self._db):
            row = await fetch_one(
                self._db, "SELECT 1 AS ok FROM dashboard_sessions WHERE sid_hash = ? AND revoked_at IS NULL"
                          " AND expires_at > ?", (sid_hash, self._now()))
        return row is not None

    async def revoke_session(self, sid_hash: str) -> None:
        async with write_transaction(self._db):
            await execute(self._db, "UPDATE dashboard_sessions SET revoked_at = ? WHERE sid_hash = ?"
                                    " AND revoked_at IS NULL", (self._now(), sid_hash))

    async def logged_in_from(self, username: str, address: str, *, days: int = SESSION_KEEP_DAYS) -> bool:
        """Whether ``username`` logged in successfully from ``address`` within the last ``days``."""
        async with locked(self._db):
            row = await fetch_one(
                self._db, "SELECT 1 AS ok FROM dashboard_sessions WHERE username = ? AND address = ?"
                          " AND created_at >= ? LIMIT 1", (username, address or "", self._now() - timedelta(days=days)))
        return row is not None

    # ----------------------------------------------------------------------------------- statistics

    def _incident_clauses(self, scope: Scope, since: datetime | None, until: datetime | None = None,
                          prefix: str = "") -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        scope_clause(scope, clauses, params, prefix)
        if since is not None:
            clauses.append(f"{prefix}created_at >= ?")
            params.append(since)
        if until is not None:
            clauses.append(f"{prefix}created_at < ?")
            params.append(until)
        return clauses, params

    async def point_stats(self, scope: Scope, since: datetime | None = None) -> dict[str, PointStats]:
        """Per talking point counts (only points that have incidents in the scope)."""
        clauses, params = self._incident_clauses(scope, since)
        async with locked(self._db):
            rows = await fetch_all(
                self._db,
                f"SELECT talking_point_id, {_STATS_SELECT} FROM incidents{_where(clauses)} GROUP BY talking_point_id",
                params,
            )
        return {r["talking_point_id"]: _row_to_stats(r["talking_point_id"], r) for r in rows}

    async def point_server_stats(self, talking_point_id: str, scope: Scope) -> list[PointStats]:
        """Counts for one talking point per server, most incidents first."""
        clauses, params = self._incident_clauses(scope, None)
        clauses.append("talking_point_id = ?")
        params.append(talking_point_id)
        async with locked(self._db):
            rows = await fetch_all(
                self._db,
                f"SELECT platform, server_id, {_STATS_SELECT} FROM incidents{_where(clauses)}"
                " GROUP BY platform, server_id ORDER BY total DESC, platform, server_id",
                params,
            )
        return [_row_to_stats(talking_point_id, r, r["platform"], r["server_id"]) for r in rows]

    async def totals(self, scope: Scope, since: datetime | None = None) -> PointStats:
        clauses, params = self._incident_clauses(scope, since)
        async with locked(self._db):
            row = await fetch_one(self._db, f"SELECT {_STATS_SELECT} FROM incidents{_where(clauses)}", params)
        return _row_to_stats("*", row)

    async def daily_counts(self, scope: Scope, since: datetime, until: datetime | None = None
                           ) -> list[tuple[str, str, int]]:
        """(UTC day 'YYYY-MM-DD', talking point id, incidents) rows."""
        clauses, params = self._incident_clauses(scope, since, until)
        async with locked(self._db):
            rows = await fetch_all(
                self._db,
                "SELECT substr(created_at, 1, 10) AS day, talking_point_id, COUNT(*) AS n"
                f" FROM incidents{_where(clauses)} GROUP BY day, talking_point_id ORDER BY day",
                params,
            )
        return [(r["day"], r["talking_point_id"], int(r["n"])) for r in rows]

    async def card_stats(self, scope: Scope, since: datetime | None = None) -> dict[str, dict[str, int]]:
        """Per talking point: cards posted (not retracted), helpful and not-relevant votes on them."""
        clauses, params = self._incident_clauses(scope, since, prefix="c.")
        clauses.append("c.retracted = 0")
        async with locked(self._db):
            rows = await fetch_all(
                self._db,
                "SELECT c.talking_point_id AS tp, COUNT(DISTINCT c.id) AS cards,"
                " COALESCE(SUM(f.helpful = 1), 0) AS helpful, COALESCE(SUM(f.helpful = 0), 0) AS not_relevant"
                f" FROM card_posts c LEFT JOIN card_feedback f ON f.card_post_id = c.id{_where(clauses)}"
                " GROUP BY c.talking_point_id",
                params,
            )
        return {r["tp"]: {"cards": int(r["cards"]), "helpful": int(r["helpful"]),
                          "not_relevant": int(r["not_relevant"])} for r in rows}

    async def shadow_replies(self, scope: Scope, since: datetime | None = None) -> int:
        """Incidents where the detector decided 'reply' but no card was posted for them (review/log-mode
        channel, or the reply budget held the card back)."""
        clauses, params = self._incident_clauses(scope, since, prefix="i.")
        clauses.append("i.action = 'reply'")
        clauses.append("NOT EXISTS (SELECT 1 FROM card_posts c WHERE c.incident_id = i.id)")
        async with locked(self._db):
            row = await fetch_one(self._db, f"SELECT COUNT(*) AS n FROM incidents i{_where(clauses)}", params)
        return int(row["n"]) if row else 0

    async def card_post_for_incident(self, incident_id: int) -> dict[str, Any] | None:
        """The card posted for an incident (newest), with its feedback counts, or None."""
        async with locked(self._db):
            row = await fetch_one(
                self._db,
                "SELECT c.id, c.post_message_id, c.lang, c.pack_version, c.created_at, c.retracted,"
                " (SELECT COUNT(*) FROM card_feedback f WHERE f.card_post_id = c.id AND f.helpful = 1) AS helpful,"
                " (SELECT COUNT(*) FROM card_feedback f WHERE f.card_post_id = c.id AND f.helpful = 0)"
                " AS not_relevant FROM card_posts c WHERE c.incident_id = ? ORDER BY c.id DESC LIMIT 1",
                (incident_id,),
            )
        if row is None:
            return None
        row["created_at"] = from_db_time(row["created_at"])
        row["retracted"] = bool(row["retracted"])
        return row

    async def known_servers(self, scope: Scope) -> list[tuple[str, str]]:
        """(platform, server_id) pairs that have incidents, within the scope."""
        clauses, params = self._incident_clauses(scope, None)
        async with locked(self._db):
            rows = await fetch_all(
                self._db,
                f"SELECT DISTINCT platform, server_id FROM incidents{_where(clauses)} ORDER BY platform, server_id",
                params,
            )
        return [(r["platform"], r["server_id"]) for r in rows]

    async def known_channels(self, scope: Scope, limit: int = 500) -> list[str]:
        clauses, params = self._incident_clauses(scope, None)
        async with locked(self._db):
            rows = await fetch_all(
                self._db,
                f"SELECT DISTINCT channel_id FROM incidents{_where(clauses)} ORDER BY channel_id LIMIT ?",
                (*params, int(limit)),
            )
        return [r["channel_id"] for r in rows]


def scope_keys(pairs: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    return tuple(server_key(p, s) for p, s in pairs)


__all__ = [
    "AuditEntry",
    "PointStats",
    "PolicyRecord",
    "Scope",
    "ServerExemplar",
    "SqliteDashboardRepository",
    "scope_keys",
    "server_key",
]
