"""Small helpers shared by the SQLite repositories and the migrator (private to ``bot.storage``).

* Timestamps: stored as fixed-width ISO-8601 UTC text (``2025-01-31T12:00:00.000000Z``) so that string
  comparison in SQL equals time comparison. Naive datetimes are taken to be UTC; values read back are
  timezone-aware UTC datetimes.
* Text: every ``str`` parameter is made encodable before it reaches sqlite3. Python strings may carry lone
  UTF-16 surrogates (``"\\ud800"``, e.g. from badly decoded JSON) that UTF-8 cannot represent and that make
  sqlite3 raise ``UnicodeEncodeError``; such code points become U+FFFD, and surrogate *pairs* written as two
  code units are joined into the real character. NUL characters, quotes, emoji etc. are stored as given
  (everything is bound with ``?`` placeholders, never formatted into SQL).
* Concurrency: one aiosqlite connection runs one statement at a time, but coroutines can interleave
  *between* statements. Every repository call therefore holds a per-connection :class:`asyncio.Lock`, and
  multi-statement writes run in one explicit transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``, or a
  ``SAVEPOINT`` when the caller already has a transaction open).
"""

from __future__ import annotations

import asyncio
import enum
import json
import math
import sqlite3
import weakref
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Iterable, Sequence

import aiosqlite

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

_locks: "weakref.WeakKeyDictionary[aiosqlite.Connection, asyncio.Lock]" = weakref.WeakKeyDictionary()


# ------------------------------------------------------------------------------------------------ time


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(dt: datetime) -> datetime:
    """Aware UTC datetime; a naive value is taken to be UTC already."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def to_db_time(dt: datetime) -> str:
    return as_utc(dt).strftime(_TIME_FORMAT)


def from_db_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    return as_utc(datetime.fromisoformat(value))


# ------------------------------------------------------------------------------------------------ text


def clean_text(value: str) -> str:
    """``value`` made safe for SQLite's UTF-8: lone surrogates -> U+FFFD, split surrogate pairs joined."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def bind_value(value: Any) -> Any:
    """Normalise one query parameter (text cleaned, enums -> value, datetimes -> stored text)."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, datetime):
        return to_db_time(value)
    if isinstance(value, float) and math.isnan(value):
        return None  # SQLite stores NaN as NULL anyway; make that explicit
    return value


def bind(params: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(bind_value(p) for p in params)


# ------------------------------------------------------------------------------------------------ sql


Scope = Sequence[str] | None  # "platform:server_id" keys; None = all servers


def scope_clause(scope: Scope, clauses: list[str], params: list[Any], prefix: str = "") -> None:
    """Restrict to the scope's exact (platform, server_id) pairs (one bound JSON array, no formatting)."""
    if scope is None:
        return
    keys = [str(k) for k in scope]
    if not keys:
        clauses.append("1 = 0")
        return
    clauses.append(f"({prefix}platform || ':' || {prefix}server_id) IN (SELECT value FROM json_each(?))")
    params.append(json.dumps(keys))


def connection_lock(db: aiosqlite.Connection) -> asyncio.Lock:
    lock = _locks.get(db)
    if lock is None:
        lock = _locks[db] = asyncio.Lock()
    return lock


async def execute(db: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Cursor:
    return await db.execute(sql, bind(params))


async def fetch_all(db: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Rows as dicts, independent of the connection's ``row_factory``.

    With ``sqlite3.Row`` rows (what :func:`bot.storage.db.open_database` sets) this is one trip to the
    connection's thread (``execute_fetchall``) instead of three (execute, fetch, close): it matters on the
    per-message path."""
    if db.row_factory is sqlite3.Row:
        rows = await db.execute_fetchall(sql, bind(params))
        return [dict(zip(row.keys(), tuple(row))) for row in rows]
    async with db.execute(sql, bind(params)) as cur:
        rows = await cur.fetchall()
        names = [d[0] for d in cur.description or ()]
    return [dict(zip(names, tuple(row))) for row in rows]


async def fetch_one(db: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
    rows = await fetch_all(db, sql, params)
    return rows[0] if rows else None


@asynccontextmanager
async def locked(db: aiosqlite.Connection) -> AsyncIterator[None]:
    """Hold the connection's lock (for reads; writes use :func:`write_transaction`)."""
    async with connection_lock(db):
        yield


@asynccontextmanager
async def write_transaction(db: aiosqlite.Connection) -> AsyncIterator[None]:
    """Hold the connection lock and run the body in one transaction; roll back on any exception.

    Works whatever the connection's ``isolation_level``: explicit BEGIN/COMMIT also bypass sqlite3's legacy
    implicit transactions. If the caller already has a transaction open, a savepoint is used instead so the
    body is still atomic and the caller keeps control of the outer COMMIT.
    """
    async with connection_lock(db):
        if db.in_transaction:
            await db.execute("SAVEPOINT contextbot_write")
            try:
                yield
            except BaseException:
                await db.execute("ROLLBACK TO contextbot_write")
                await db.execute("RELEASE contextbot_write")
                raise
            await db.execute("RELEASE contextbot_write")
            return

        await db.execute("BEGIN IMMEDIATE")
        try:
            yield
            await db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                await db.execute("ROLLBACK")
            raise




async def lock_key(db: Any, key: str) -> None:
    """Inside a write transaction: serialise every process on ``key`` until the transaction ends.

    SQLite needs nothing (``BEGIN IMMEDIATE`` already holds the database's single write lock across
    processes); PostgreSQL takes a transaction-scoped advisory lock on the key's hash."""
    if getattr(db, "dialect", "sqlite") == "postgresql":
        await db.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (key,))


CHANGES_KEY = "changes:seq"
CHANGES_CHANNEL = "contextbot_changes"


async def publish_change(db: Any, kind: str, platform: str = "", server_id: str = "", detail: str = "") -> None:
    """Tell the other processes sharing the database that ``kind`` changed (a verdict, a channel mode, ...).

    Call inside the write transaction that made the change, so the news is published exactly when it commits:
    on PostgreSQL a ``NOTIFY`` (delivered at commit), on SQLite a bumped change counter in ``kv`` that the
    other processes poll (bot/storage/changes.py)."""
    payload = "\t".join((kind, platform, server_id, detail))
    if getattr(db, "dialect", "sqlite") == "postgresql":
        await db.execute("SELECT pg_notify(?, ?)", (CHANGES_CHANNEL, payload[:7900]))
        return
    await db.execute(
        "INSERT INTO kv (key, value, updated_at) VALUES (?, '1', ?) ON CONFLICT (key) DO UPDATE"
        " SET value = CAST(CAST(kv.value AS INTEGER) + 1 AS TEXT), updated_at = excluded.updated_at",
        (CHANGES_KEY, to_db_time(utcnow())),
    )
