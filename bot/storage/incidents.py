"""SQLite implementation of :class:`bot.core.ports.IncidentRepository`.

Behaviour worth knowing (beyond the protocol docstrings):

* Content: the message text is stored as given (NUL, quotes, emoji ...) but capped at
  :data:`MAX_CONTENT_CHARS` (8000) characters; lone UTF-16 surrogates become U+FFFD (see ``_common``).
  Other text fields are not capped.
* Times: naive datetimes are taken as UTC; everything read back is timezone-aware UTC.
* Grouping: ``record_incident`` joins the newest incident by the same platform/server/author on the same
  talking point whose ``created_at >= new.created_at - group_window`` (a sliding window: each hit extends
  the group). The group's first row has ``group_id`` = its own id and ``hit_count`` = size of the group;
  later rows point at it and keep ``hit_count`` 1 (the root's side is kept by a trigger, migrations/0003).
  The status of earlier incidents does not matter. A window of zero or less disables grouping.
* Once per message and point: ``record_incident`` inserts nothing for a (platform, channel, message, talking
  point) that already has an incident, and returns that one (an edit or a redelivery), in the same statement.
* Filters: ``since`` is inclusive, ``until`` exclusive; ``scope`` matches exact (platform, server) pairs given
  as ``"platform:server_id"`` keys, and ``scope=()`` matches nothing (an empty allow-list); ``order`` is
  "newest" | "oldest" | "score" (anything else -> ValueError).
* ``resolve_incident`` with status OPEN re-opens the incident and clears ``resolved_at``.
* ``record_card_post`` raises ``sqlite3.IntegrityError`` for a duplicate (platform, post_message_id) or an
  ``incident_id`` that does not exist; ``card_history`` includes retracted cards (check ``retracted``).
* ``record_feedback`` raises ``sqlite3.IntegrityError`` for an unknown card.
"""

from __future__ import annotations

import math
import operator
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import aiosqlite

from ..core.models import Action, Incident, IncidentStatus, Stance
from ..core.ports import AlertPost, CardPost, IncidentFilter, NewIncident, SuppressedReply
from ._common import (
    as_utc,
    clean_text,
    execute,
    fetch_all,
    fetch_one,
    from_db_time,
    lock_key,
    locked,
    publish_change,
    scope_clause,
    utcnow,
    write_transaction,
)

MAX_CONTENT_CHARS = 8000
from ..core.reservations import ABANDONED_AFTER, PENDING_POST_PREFIX  # noqa: E402 - a reserved card not posted (yet)

_INCIDENT_COLUMNS = (
    "id, platform, server_id, channel_id, message_id, message_link, author_id, content, talking_point_id, "
    "stance, score, match_score, action, status, reviewer, note, explanation_json, group_id, hit_count, "
    "created_at, updated_at, resolved_at"
)
_CARD_COLUMNS = (
    "id, platform, server_id, channel_id, thread_id, source_message_id, post_message_id, talking_point_id, "
    "author_id, incident_id, lang, pack_version, created_at, retracted"
)
_ALERT_COLUMNS = "id, platform, incident_id, channel_id, post_message_id, created_at, content_removed"
_ORDERS = {
    "newest": "created_at DESC, id DESC",
    "oldest": "created_at ASC, id ASC",
    "score": "score DESC, created_at DESC, id DESC",
}


def _float(value: Any) -> float:
    return float(value) if value is not None else 0.0


def _finite(value: float) -> float:
    value = float(value)
    return value if not math.isnan(value) else 0.0


def _row_to_incident(r: dict[str, Any]) -> Incident:
    return Incident(
        id=r["id"],
        platform=r["platform"],
        server_id=r["server_id"],
        channel_id=r["channel_id"],
        message_id=r["message_id"],
        message_link=r["message_link"],
        author_id=r["author_id"],
        content=r["content"],
        talking_point_id=r["talking_point_id"],
        stance=Stance(r["stance"]),
        score=_float(r["score"]),
        match_score=_float(r["match_score"]),
        action=Action(r["action"]),
        status=IncidentStatus(r["status"]),
        reviewer=r["reviewer"],
        note=r["note"],
        created_at=from_db_time(r["created_at"]),  # type: ignore[arg-type]
        updated_at=from_db_time(r["updated_at"]),  # type: ignore[arg-type]
        group_id=r["group_id"],
        hit_count=r["hit_count"],
        explanation_json=r["explanation_json"] or "{}",
        resolved_at=from_db_time(r["resolved_at"]),
    )


def _inserted(row: dict[str, Any]) -> Incident:
    # RETURNING shows the row as inserted, before the trigger: a new root's group_id is its own id
    if row["group_id"] is None:
        row["group_id"] = row["id"]
    return _row_to_incident(row)


def _row_to_card(r: dict[str, Any]) -> CardPost:
    return CardPost(
        id=r["id"],
        platform=r["platform"],
        server_id=r["server_id"],
        channel_id=r["channel_id"],
        thread_id=r["thread_id"],
        source_message_id=r["source_message_id"],
        post_message_id=r["post_message_id"],
        talking_point_id=r["talking_point_id"],
        author_id=r["author_id"],
        incident_id=r["incident_id"],
        lang=r["lang"],
        pack_version=r["pack_version"],
        created_at=from_db_time(r["created_at"]),  # type: ignore[arg-type]
        retracted=bool(r["retracted"]),
    )


def _row_to_alert(r: dict[str, Any]) -> AlertPost:
    return AlertPost(
        id=r["id"],
        platform=r["platform"],
        incident_id=r["incident_id"],
        channel_id=r["channel_id"],
        post_message_id=r["post_message_id"],
        created_at=from_db_time(r["created_at"]),  # type: ignore[arg-type]
        content_removed=bool(r["content_removed"]),
    )


def _cap_content(content: str | None) -> str | None:
    if content is None:
        return None
    return clean_text(str(content))[:MAX_CONTENT_CHARS]


def _check_page(limit: int, offset: int) -> tuple[int, int]:
    limit, offset = operator.index(limit), operator.index(offset)
    if limit < 0 or offset < 0:
        raise ValueError(f"limit and offset must be >= 0 (got limit={limit}, offset={offset})")
    return limit, offset


def _where(flt: IncidentFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("platform", flt.platform),
        ("server_id", flt.server_id),
        ("channel_id", flt.channel_id),
        ("talking_point_id", flt.talking_point_id),
        ("stance", Stance(flt.stance) if flt.stance is not None else None),
        ("status", IncidentStatus(flt.status) if flt.status is not None else None),
        ("author_id", flt.author_id),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    scope_clause(flt.scope, clauses, params)  # exact (platform, server) pairs, as the dashboard's queries
    if flt.since is not None:
        clauses.append("created_at >= ?")
        params.append(flt.since)
    if flt.until is not None:
        clauses.append("created_at < ?")
        params.append(flt.until)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class SqliteIncidentRepository:
    """Incidents, posted cards, suppressed replies and card feedback in SQLite."""

    def __init__(self, db: aiosqlite.Connection, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._clock = clock

    def _now(self) -> datetime:
        return as_utc(self._clock())

    # ---------------------------------------------------------------------------------- incidents

    async def _get(self, incident_id: int) -> Incident | None:
        row = await fetch_one(self._db, f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?", (incident_id,))
        return _row_to_incident(row) if row else None

    async def record_incident(self, new: NewIncident, group_window: timedelta) -> tuple[Incident, bool]:
        sql, params = self._insert_incident(new, group_window)
        # Under the author's group lock (SQLite: the write lock; PostgreSQL: an advisory lock, since two
        # processes' INSERT ... WHERE NOT EXISTS would both insert under READ COMMITTED): one incident per
        # message and point however many processes receive the message, and a group counts each message once.
        async with write_transaction(self._db):
            await lock_key(self._db, f"incidents:{new.platform}:{new.server_id}:{new.author_id}:{new.talking_point_id}")
            row = await fetch_one(self._db, sql, params)
            if row is not None:
                return _inserted(row), True
            row = await fetch_one(  # an edit or a redelivery: the incident already recorded for it
                self._db,
                f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE platform = ? AND channel_id = ?"
                " AND message_id = ? AND talking_point_id = ? ORDER BY id LIMIT 1",
                (new.platform, new.channel_id, new.message_id, new.talking_point_id),
            )
        assert row is not None
        return _row_to_incident(row), False

    def _insert_incident(self, new: NewIncident, group_window: timedelta) -> tuple[str, tuple]:
        # One statement, one trip to the SQLite thread: the subquery finds the group (the newest incident by
        # the same author on the same point within the window whose root still exists) and the trigger from
        # migrations/0003 makes a new row its own root or bumps the root's hit_count. Nothing is inserted (no row
        # returned) if the message already has an incident for this talking point (record_incident holds the
        # author's group lock around it, so two deliveries of the same message cannot both insert).
        now = self._now()
        created = as_utc(new.created_at)
        group_sql, group_params = "NULL", ()
        if group_window > timedelta(0):
            try:
                window_start = created - group_window
            except OverflowError:
                window_start = datetime.min.replace(tzinfo=timezone.utc)
            group_sql = (
                "(SELECT r.id FROM incidents AS p JOIN incidents AS r ON r.id = COALESCE(p.group_id, p.id)"
                " WHERE p.server_id = ? AND p.author_id = ? AND p.talking_point_id = ? AND p.platform = ?"
                " AND p.created_at >= ? ORDER BY p.created_at DESC, p.id DESC LIMIT 1)"
            )
            group_params = (new.server_id, new.author_id, new.talking_point_id, new.platform, window_start)
        params = (
            new.platform,
            new.server_id,
            new.channel_id,
            new.message_id,
            new.message_link,
            new.author_id,
            _cap_content(new.content),
            new.talking_point_id,
            Stance(new.stance),
            _finite(new.score),
            _finite(new.match_score),
            Action(new.action),
            new.explanation_json if new.explanation_json is not None else "{}",
            *group_params,
            created,
            now,
        )
        guard = (" WHERE NOT EXISTS (SELECT 1 FROM incidents WHERE platform = ? AND channel_id = ?"
                 " AND message_id = ? AND talking_point_id = ?)")
        params += (new.platform, new.channel_id, new.message_id, new.talking_point_id)
        sql = (
            "INSERT INTO incidents (platform, server_id, channel_id, message_id, message_link, author_id,"
            " content, talking_point_id, stance, score, match_score, action, status, explanation_json,"
            " group_id, hit_count, created_at, updated_at)"
            f" SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, {group_sql}, 1, ?, ?{guard}"
            f" RETURNING {_INCIDENT_COLUMNS}"
        )
        return sql, params

    async def get_incident(self, incident_id: int) -> Incident | None:
        async with locked(self._db):
            return await self._get(incident_id)

    async def list_incidents(self, flt: IncidentFilter, limit: int = 50, offset: int = 0) -> list[Incident]:
        limit, offset = _check_page(limit, offset)
        order = _ORDERS.get(flt.order)
        if order is None:
            raise ValueError(f"unknown incident order {flt.order!r}; use one of {sorted(_ORDERS)}")
        where, params = _where(flt)
        sql = f"SELECT {_INCIDENT_COLUMNS} FROM incidents{where} ORDER BY {order} LIMIT ? OFFSET ?"
        async with locked(self._db):
            rows = await fetch_all(self._db, sql, (*params, limit, offset))
        return [_row_to_incident(r) for r in rows]

    async def count_incidents(self, flt: IncidentFilter) -> int:
        where, params = _where(flt)
        async with locked(self._db):
            row = await fetch_one(self._db, f"SELECT COUNT(*) AS n FROM incidents{where}", params)
        return int(row["n"]) if row else 0

    async def resolve_incident(
        self, incident_id: int, status: IncidentStatus, reviewer: str, note: str | None
    ) -> Incident | None:
        status = IncidentStatus(status)
        now = self._now()
        resolved_at = None if status is IncidentStatus.OPEN else now
        async with write_transaction(self._db):
            cur = await execute(
                self._db,
                "UPDATE incidents SET status = ?, reviewer = ?, note = ?, resolved_at = ?, updated_at = ?"
                " WHERE id = ?",
                (status, reviewer, note, resolved_at, now, incident_id),
            )
            if cur.rowcount == 0:
                return None
            incident = await self._get(incident_id)
            if incident is not None:
                await publish_change(self._db, "verdict", incident.platform, incident.server_id, str(incident_id))
            return incident

    async def incidents_for_message(self, platform: str, channel_id: str, message_id: str) -> list[Incident]:
        async with locked(self._db):
            rows = await fetch_all(
                self._db,
                f"SELECT {_INCIDENT_COLUMNS} FROM incidents"
                " WHERE platform = ? AND channel_id = ? AND message_id = ? ORDER BY id",
                (platform, channel_id, message_id),
            )
        return [_row_to_incident(r) for r in rows]

    async def purge_message_content(self, platform: str, channel_id: str, message_id: str) -> int:
        now = self._now()
        async with write_transaction(self._db):
            cur = await execute(
                self._db,
                "UPDATE incidents SET content = NULL, content_purged_at = ?, updated_at = ?"
                " WHERE platform = ? AND channel_id = ? AND message_id = ? AND content IS NOT NULL",
                (now, now, platform, channel_id, message_id),
            )
            return cur.rowcount

    async def update_message_content(self, platform: str, channel_id: str, message_id: str, content: str) -> int:
        now = self._now()
        async with write_transaction(self._db):
            cur = await execute(
                self._db,
                "UPDATE incidents SET content = ?, updated_at = ?"
                " WHERE platform = ? AND channel_id = ? AND message_id = ? AND content IS NOT NULL",
                (_cap_content(content), now, platform, channel_id, message_id),
            )
            return cur.rowcount

    async def purge_content_before(self, cutoff: datetime) -> int:
        now = self._now()
        async with write_transaction(self._db):
            cur = await execute(
                self._db,
                "UPDATE incidents SET content = NULL, content_purged_at = ?, updated_at = ?"
                " WHERE created_at < ? AND content IS NOT NULL",
                (now, now, cutoff),
            )
            return cur.rowcount

    # --------------------------------------------------------------------------------- card posts

    async def _card(self, where: str, params: tuple[Any, ...]) -> CardPost | None:
        row = await fetch_one(self._db, f"SELECT {_CARD_COLUMNS} FROM card_posts WHERE {where}", params)
        return _row_to_card(row) if row else None

    async def record_card_post(self, post: CardPost) -> CardPost:
        async with locked(self._db):  # one statement (autocommit): one trip to the SQLite thread
            row = await fetch_one(
                self._db,
                "INSERT INTO card_posts (platform, server_id, channel_id, thread_id, source_message_id,"
                " post_message_id, talking_point_id, author_id, incident_id, lang, pack_version, created_at,"
                f" retracted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_CARD_COLUMNS}",
                (
                    post.platform,
                    post.server_id,
                    post.channel_id,
                    post.thread_id or "",
                    post.source_message_id,
                    post.post_message_id,
                    post.talking_point_id,
                    post.author_id,
                    post.incident_id,
                    post.lang,
                    post.pack_version,
                    post.created_at,
                    bool(post.retracted),
                ),
            )
        assert row is not None
        return _row_to_card(row)

    async def card_history(self, platform: str, channel_id: str, source_message_id: str,
                           since: datetime) -> tuple[CardPost | None, list[CardPost]]:
        async with locked(self._db):  # one query for both
            return await self._history(platform, channel_id, source_message_id, since)

    async def _history(self, platform: str, channel_id: str, source_message_id: str,
                       since: datetime) -> tuple[CardPost | None, list[CardPost]]:
        rows = await fetch_all(
            self._db,
            f"SELECT {_CARD_COLUMNS}, created_at >= ? AS in_window FROM card_posts"
            " WHERE platform = ? AND channel_id = ? AND (created_at >= ? OR source_message_id = ?)"
            " ORDER BY created_at, id",
            (since, platform, channel_id, since, source_message_id),
        )
        for_source = [r for r in rows if r["source_message_id"] == source_message_id]
        newest = _row_to_card(for_source[-1]) if for_source else None
        return newest, [_row_to_card(r) for r in rows if r["in_window"]]

    async def reserve_card(
        self, post: CardPost, since: datetime,
        refuse: Callable[[CardPost | None, list[CardPost]], str | None],
    ) -> tuple[CardPost | None, str | None]:
        """Decide and reserve a card in one transaction, so processes sharing the database never post two cards
        for one message nor overrun the channel's budget.

        Under a per-channel lock (SQLite: the write lock; PostgreSQL: an advisory lock), ``refuse(newest card
        for the source message, channel's cards since since)`` is asked; if it returns a reason nothing is
        written and ``(None, reason)`` returned. Otherwise a placeholder row (``post_message_id`` =
        ``"pending:<random>"``) is inserted and returned: it counts in every other process's budget at once.
        Fill it in with :meth:`fill_card_post` once posted, or drop it with :meth:`release_card`. Placeholders
        of this channel older than ``ABANDONED_AFTER`` (a process died before posting) are removed first."""
        import uuid

        async with write_transaction(self._db):
            await lock_key(self._db, f"cards:{post.platform}:{post.channel_id}")
            await execute(
                self._db,
                "DELETE FROM card_posts WHERE platform = ? AND channel_id = ? AND post_message_id LIKE ?"
                " AND created_at < ?",
                (post.platform, post.channel_id, PENDING_POST_PREFIX + "%", post.created_at - ABANDONED_AFTER))
            existing, recent = await self._history(post.platform, post.channel_id, post.source_message_id, since)
            reason = refuse(existing, recent)
            if reason is not None:
                return None, reason
            row = await fetch_one(
                self._db,
                "INSERT INTO card_posts (platform, server_id, channel_id, thread_id, source_message_id,"
                " post_message_id, talking_point_id, author_id, incident_id, lang, pack_version, created_at,"
                f" retracted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0) RETURNING {_CARD_COLUMNS}",
                (post.platform, post.server_id, post.channel_id, post.thread_id or "", post.source_message_id,
                 PENDING_POST_PREFIX + uuid.uuid4().hex, post.talking_point_id, post.author_id, post.incident_id,
                 post.lang, post.pack_version, post.created_at),
            )
        assert row is not None
        return _row_to_card(row), None

    async def fill_card_post(self, card_post_id: int, post_message_id: str) -> CardPost | None:
        """The reserved card was posted as ``post_message_id``."""
        async with locked(self._db):
            row = await fetch_one(
                self._db, f"UPDATE card_posts SET post_message_id = ? WHERE id = ? RETURNING {_CARD_COLUMNS}",
                (post_message_id, card_post_id))
        return _row_to_card(row) if row else None

    async def release_card(self, card_post_id: int) -> None:
        """The reserved card could not be posted: forget the reservation (only while still a placeholder)."""
        async with locked(self._db):
            await execute(self._db, "DELETE FROM card_posts WHERE id = ? AND post_message_id LIKE ?",
                          (card_post_id, PENDING_POST_PREFIX + "%"))

    async def card_post_for_source(self, platform: str, channel_id: str, source_message_id: str) -> CardPost | None:
        async with locked(self._db):
            return await self._card(
                "platform = ? AND channel_id = ? AND source_message_id = ? ORDER BY created_at DESC, id DESC LIMIT 1",
                (platform, channel_id, source_message_id),
            )

    async def card_post_by_post_id(self, platform: str, post_message_id: str) -> CardPost | None:
        async with locked(self._db):
            return await self._card("platform = ? AND post_message_id = ?", (platform, post_message_id))

    async def mark_card_retracted(self, card_post_id: int) -> None:
        async with write_transaction(self._db):
            await execute(self._db, "UPDATE card_posts SET retracted = 1 WHERE id = ?", (card_post_id,))

    async def record_suppressed(self, s: SuppressedReply) -> None:
        async with locked(self._db):  # one statement (autocommit)
            await execute(
                self._db,
                "INSERT INTO suppressed_replies (platform, server_id, channel_id, source_message_id,"
                " talking_point_id, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (s.platform, s.server_id, s.channel_id, s.source_message_id, s.talking_point_id, s.reason, s.created_at),
            )

    # ---------------------------------------------------------------------------------- alert posts

    async def record_alert_post(self, post: AlertPost) -> AlertPost:
        async with locked(self._db):  # one statement (autocommit)
            row = await fetch_one(
                self._db,
                "INSERT INTO alert_events (platform, incident_id, channel_id, post_message_id, created_at,"
                f" content_removed) VALUES (?, ?, ?, ?, ?, ?) RETURNING {_ALERT_COLUMNS}",
                (post.platform, post.incident_id, post.channel_id, post.post_message_id, post.created_at,
                 bool(post.content_removed)),
            )
        assert row is not None
        return _row_to_alert(row)

    async def alert_post_by_post_id(self, platform: str, post_message_id: str) -> AlertPost | None:
        async with locked(self._db):
            row = await fetch_one(
                self._db, f"SELECT {_ALERT_COLUMNS} FROM alert_events WHERE platform = ? AND post_message_id = ?",
                (platform, post_message_id))
        return _row_to_alert(row) if row else None

    async def alert_posts_for_incident(self, incident_id: int) -> list[AlertPost]:
        async with locked(self._db):
            rows = await fetch_all(
                self._db, f"SELECT {_ALERT_COLUMNS} FROM alert_events WHERE incident_id = ? ORDER BY id", (incident_id,))
        return [_row_to_alert(r) for r in rows]

    async def alerts_showing_purged_content(self, platform: str, limit: int = 100) -> list[AlertPost]:
        limit, _ = _check_page(limit, 0)
        async with locked(self._db):
            rows = await fetch_all(
                self._db,
                "SELECT a.* FROM alert_events AS a"
                " JOIN incidents AS i ON i.id = a.incident_id"
                " WHERE a.platform = ? AND a.content_removed = 0 AND i.content IS NULL ORDER BY a.id LIMIT ?",
                (platform, limit),
            )
        return [_row_to_alert(r) for r in rows]

    async def mark_alert_content_removed(self, alert_post_id: int) -> None:
        async with write_transaction(self._db):
            await execute(self._db, "UPDATE alert_events SET content_removed = 1 WHERE id = ?", (alert_post_id,))

    # ----------------------------------------------------------------------------------- feedback

    async def record_feedback(self, card_post_id: int, user_id: str, helpful: bool) -> bool:
        now = self._now()
        async with write_transaction(self._db):
            # The DO UPDATE only fires when the vote differs, so changes == 1 exactly for new-or-changed.
            cur = await execute(
                self._db,
                "INSERT INTO card_feedback (card_post_id, user_id, helpful, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (card_post_id, user_id) DO UPDATE"
                " SET helpful = excluded.helpful, updated_at = excluded.updated_at"
                " WHERE card_feedback.helpful <> excluded.helpful",
                (card_post_id, user_id, bool(helpful), now, now),
            )
            return cur.rowcount == 1

    async def feedback_counts(self, card_post_id: int) -> tuple[int, int]:
        async with locked(self._db):
            row = await fetch_one(
                self._db,
                "SELECT COALESCE(SUM(helpful = 1), 0) AS yes, COALESCE(SUM(helpful = 0), 0) AS no"
                " FROM card_feedback WHERE card_post_id = ?",
                (card_post_id,),
            )
        return (int(row["yes"]), int(row["no"])) if row else (0, 0)


__all__ = ["MAX_CONTENT_CHARS", "SqliteIncidentRepository"]
