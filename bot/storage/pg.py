"""PostgreSQL storage (asyncpg) behind the same repositories as SQLite.

Why asyncpg: it is the asyncio-native PostgreSQL driver (no thread pool, unlike psycopg's sync API behind
aiosqlite-style threads), speaks the binary protocol, caches prepared statements per connection, and exposes
LISTEN/NOTIFY and advisory locks directly, which is what several bot processes sharing one database need.

Rather than a second copy of every repository, :class:`PgConnection` offers the small part of
``aiosqlite.Connection`` the repositories use (``execute`` returning a cursor with ``rowcount``/``fetchone``/
``fetchall``, ``execute_fetchall``, ``in_transaction``, ``close``) and rewrites the SQL on the way:

* ``?`` placeholders become ``$1, $2 ...``, each with a cast taken from the bound Python value (``str`` ->
  ``::text``, ``int`` -> ``::bigint``, ``float`` -> ``::float8``, ``bytes`` -> ``::bytea``; ``None`` stays
  untyped), because PostgreSQL must know parameter types where SQLite does not care;
* ``BEGIN IMMEDIATE`` becomes ``BEGIN``; ``INSERT OR IGNORE`` becomes ``INSERT ... ON CONFLICT DO NOTHING``;
  ``SELECT value FROM json_each(?)`` (the scope filter) becomes ``json_array_elements_text``;
* integrity violations are raised as :class:`PgIntegrityError`, a subclass of ``sqlite3.IntegrityError``, so the
  repositories' documented "raises sqlite3.IntegrityError" holds on both backends;
* NUL in text is stored as U+10FFFE (PostgreSQL text cannot hold NUL) and restored on read;
* ``numeric`` results (``SUM`` of bigint) come back as ``int``/``float``, not ``Decimal``.

Schema: ``migrations/postgresql/NNNN_name.sql`` (same numbers and names as the SQLite files), applied by
:func:`migrate_pg` with the SQLite migrator's rules plus an advisory lock.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlsplit, urlunsplit, quote

import asyncpg

from ._common import bind, connection_lock, to_db_time, utcnow
from .migrator import (
    _FILE_RE,
    DEFAULT_MIGRATIONS_DIR,
    MigrationError,
    MigrationFileError,
    MigrationResult,
    SchemaTooNewError,
)

log = logging.getLogger(__name__)

PG_MIGRATIONS_DIR = DEFAULT_MIGRATIONS_DIR / "postgresql"
PASSWORD_ENV = "CONTEXTBOT_DB_PASSWORD"
MIGRATION_LOCK_KEY = 0x636F6E7478  # "contx": pg_advisory_lock key held while migrating
CHANGES_CHANNEL = "contextbot_changes"

_CASTS = {str: "::text", int: "::bigint", float: "::float8", bytes: "::bytea", bool: "::bigint"}
_TX_LINE = re.compile(r"^\s*(COMMIT|ROLLBACK|BEGIN\s*;|START\s+TRANSACTION|END\s*;\s*$)", re.I | re.M)


def is_postgres_url(value: object) -> bool:
    return isinstance(value, str) and value.split(":", 1)[0] in ("postgresql", "postgres")


def dsn_with_password(dsn: str, password: str | None = None) -> str:
    """``dsn`` with the password from ``CONTEXTBOT_DB_PASSWORD`` filled in when the URL has none."""
    password = password if password is not None else os.environ.get(PASSWORD_ENV)
    parts = urlsplit(dsn)
    if not password or parts.password is not None or not parts.username:
        return dsn
    host = parts.netloc.split("@", 1)[1]
    netloc = f"{quote(parts.username, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redact(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    host = parts.netloc.split("@", 1)[1]
    return urlunsplit((parts.scheme, f"{parts.username}:***@{host}", parts.path, parts.query, parts.fragment))


# ------------------------------------------------------------------------------------------ translation


def _cast(value: Any) -> str:
    return _CASTS.get(type(value), "")


def translate(sql: str, params: Sequence[Any]) -> str:
    """SQLite-flavoured SQL of the repositories -> PostgreSQL (see the module docstring)."""
    sql = sql.replace("SELECT value FROM json_each(?)", "SELECT value FROM json_array_elements_text(?::json) AS j(value)")
    head = sql.lstrip()[:40].upper()
    if head.startswith("BEGIN"):
        return "BEGIN"
    if head.startswith("INSERT OR IGNORE"):
        sql = re.sub(r"INSERT\s+OR\s+IGNORE", "INSERT", sql, count=1, flags=re.I) + " ON CONFLICT DO NOTHING"
    out: list[str] = []
    n = 0
    i, size = 0, len(sql)
    while i < size:
        ch = sql[i]
        if ch == "'":  # copy string literals untouched
            j = sql.find("'", i + 1)
            j = size if j == -1 else j + 1
            out.append(sql[i:j])
            i = j
            continue
        if ch == "?":
            value = params[n] if n < len(params) else None
            n += 1
            cast = "" if sql.startswith("::", i + 1) else _cast(value)
            out.append(f"${n}{cast}")
        else:
            out.append(ch)
        i += 1
    if n != len(params):
        raise ValueError(f"SQL has {n} placeholders but {len(params)} parameters: {sql[:80]}")
    return "".join(out)


# PostgreSQL text cannot hold NUL; SQLite can and the repositories promise NUL round-trips. NUL is stored as the
# noncharacter U+10FFFE (which no real text uses) and turned back on read.
_NUL_STAND_IN = "\U0010fffe"


def _in(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", _NUL_STAND_IN)
    return value


def _out(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(_NUL_STAND_IN, "\x00") if _NUL_STAND_IN in value else value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


class PgIntegrityError(sqlite3.IntegrityError):
    """A PostgreSQL integrity violation (unique, foreign key, check, not null), as sqlite3's class."""


_ROWS_STATUS = re.compile(r"(\d+)$")


class PgCursor:
    def __init__(self, rows: list[tuple], names: list[str], rowcount: int) -> None:
        self._rows = rows
        self.description = [(n, None, None, None, None, None, None) for n in names]
        self.rowcount = rowcount
        self.lastrowid = None

    async def fetchone(self) -> tuple | None:
        return self._rows[0] if self._rows else None

    async def fetchall(self) -> list[tuple]:
        return list(self._rows)

    async def close(self) -> None:
        pass


class _Pending:
    """What ``execute`` returns: awaitable and an async context manager, like aiosqlite's."""

    def __init__(self, coro: Any) -> None:
        self._coro = coro

    def __await__(self):  # type: ignore[no-untyped-def]
        return self._coro.__await__()

    async def __aenter__(self) -> PgCursor:
        return await self._coro

    async def __aexit__(self, *exc: object) -> None:
        pass


class PgConnection:
    """One asyncpg connection dressed as the subset of ``aiosqlite.Connection`` the repositories use."""

    row_factory = None
    dialect = "postgresql"

    def __init__(self, conn: asyncpg.Connection, dsn: str) -> None:
        self.raw = conn
        self.dsn = dsn
        self._stmts: dict[str, Any] = {}  # prepared statements by SQL text (asyncpg's public prepare() is uncached)

    async def _prepared(self, text: str) -> Any:
        stmt = self._stmts.get(text)
        if stmt is None:
            if len(self._stmts) >= 1024:
                self._stmts.clear()
            stmt = self._stmts[text] = await self.raw.prepare(text)
        return stmt

    @property
    def in_transaction(self) -> bool:
        return self.raw.is_in_transaction()

    async def _run(self, sql: str, params: Sequence[Any]) -> PgCursor:
        values = tuple(_in(v) for v in bind(params))
        text = translate(sql, values)
        try:
            if not values and not _returns_rows(text):
                status = await self.raw.execute(text)
                return PgCursor([], [], _rowcount(status))
            stmt = await self._prepared(text)
            try:
                records = await stmt.fetch(*values)
            except asyncpg.InvalidCachedStatementError:
                self._stmts.pop(text, None)
                stmt = await self._prepared(text)
                records = await stmt.fetch(*values)
            names = [a.name for a in stmt.get_attributes()]
            rows = [tuple(_out(v) for v in r.values()) for r in records]
            status = stmt.get_statusmsg() or ""
            count = len(rows) if names else _rowcount(status)
            return PgCursor(rows, names, count)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise PgIntegrityError(str(exc)) from exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Pending:
        return _Pending(self._run(sql, params))

    async def execute_fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        cur = await self._run(sql, params)
        return await cur.fetchall()

    async def commit(self) -> None:
        pass  # autocommit outside explicit transactions, as the SQLite connection

    async def close(self) -> None:
        await self.raw.close()


def _returns_rows(sql: str) -> bool:
    head = sql.lstrip()[:10].upper()
    return head.startswith(("SELECT", "WITH", "VALUES")) or " RETURNING " in sql.upper()


def _rowcount(status: str) -> int:
    m = _ROWS_STATUS.search(status or "")
    return int(m.group(1)) if m else -1


# ------------------------------------------------------------------------------------------- migrations


@dataclass(frozen=True)
class PgMigration:
    version: int
    name: str
    sql: str


def discover_pg_migrations(migrations_dir: Path = PG_MIGRATIONS_DIR) -> list[PgMigration]:
    if not migrations_dir.is_dir():
        raise MigrationFileError(f"migrations directory not found: {migrations_dir}")
    found: dict[int, Path] = {}
    for path in sorted(migrations_dir.iterdir()):
        if not path.is_file() or path.suffix.lower() != ".sql" or path.name.startswith("."):
            continue
        m = _FILE_RE.match(path.name)
        if not m or int(m.group(1)) == 0:
            raise MigrationFileError(f"bad migration file name {path.name!r} in {migrations_dir}")
        version = int(m.group(1))
        if version in found:
            raise MigrationFileError(f"duplicate migration number {version:04d}: {found[version].name}, {path.name}")
        found[version] = path
    out: list[PgMigration] = []
    for expected, version in enumerate(sorted(found), start=1):
        if version != expected:
            raise MigrationFileError(f"gap in migration numbering in {migrations_dir}: expected {expected:04d}")
        text = found[version].read_text(encoding="utf-8")
        if _TX_LINE.search(_without_function_bodies(text)):
            raise MigrationFileError(f"migration {found[version].name} contains a transaction statement")
        out.append(PgMigration(version, found[version].name, text))
    return out


def _without_function_bodies(sql: str) -> str:
    return re.sub(r"\$\$.*?\$\$", "''", sql, flags=re.S)


_CREATE_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " applied_at TEXT NOT NULL)"
)


async def migrate_pg(conn: asyncpg.Connection, migrations_dir: Path | None = None) -> MigrationResult:
    """Apply pending PostgreSQL migrations; several processes may call this at once (advisory lock)."""
    migrations = discover_pg_migrations(Path(migrations_dir) if migrations_dir else PG_MIGRATIONS_DIR)
    latest = migrations[-1].version if migrations else 0
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await conn.execute(_CREATE_VERSION_TABLE)
        current = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        if current > latest:
            raise SchemaTooNewError(current, latest)
        applied: list[int] = []
        for mig in migrations:
            if mig.version <= current:
                continue
            try:
                async with conn.transaction():
                    await conn.execute(mig.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                        mig.version, mig.name, to_db_time(utcnow()))
            except asyncpg.PostgresError as exc:
                raise MigrationError(
                    f"migration {mig.name} failed: {exc}; the file was rolled back, "
                    f"database schema stays at version {current}") from exc
            log.info("applied PostgreSQL migration %s", mig.name)
            applied.append(mig.version)
            current = mig.version
        return MigrationResult(applied=applied, current_version=current)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)


async def open_pg(dsn: str, migrations_dir: Path | None = None, *, migrate: bool = True) -> PgConnection:
    """Connect to ``dsn`` (password from ``CONTEXTBOT_DB_PASSWORD`` if the URL has none) and migrate."""
    full = dsn_with_password(dsn)
    last: Exception | None = None
    for attempt in range(5):  # the database may still be starting (several processes, containers)
        try:
            conn = await asyncpg.connect(full, statement_cache_size=512)
            break
        except (OSError, asyncpg.CannotConnectNowError) as exc:
            last = exc
            await asyncio.sleep(0.2 * (attempt + 1))
    else:
        raise ConnectionError(f"cannot connect to {redact(dsn)}: {last}") from last
    try:
        if migrate:
            async with connection_lock(conn):
                await migrate_pg(conn, migrations_dir)
    except BaseException:
        await conn.close()
        raise
    return PgConnection(conn, dsn)


__all__ = [
    "CHANGES_CHANNEL",
    "PASSWORD_ENV",
    "PG_MIGRATIONS_DIR",
    "PgConnection",
    "PgIntegrityError",
    "discover_pg_migrations",
    "dsn_with_password",
    "is_postgres_url",
    "migrate_pg",
    "open_pg",
    "redact",
    "translate",
]
