"""Opening the contextbot SQLite database."""

from __future__ import annotations

import logging
from pathlib import Path

import aiosqlite

from .incidents import SqliteIncidentRepository
from .migrator import migrate
from .pg import is_postgres_url, open_pg
from .settings import SqliteSettingsRepository

log = logging.getLogger(__name__)

MEMORY = ":memory:"


async def open_database(path: str | Path, migrations_dir: Path | None = None) -> aiosqlite.Connection:
    """Open (creating if needed) and migrate the database at ``path``.

    A ``postgresql://`` URL opens PostgreSQL instead (:func:`bot.storage.pg.open_pg`; the password comes from
    ``CONTEXTBOT_DB_PASSWORD`` when the URL has none): the returned connection then is a
    :class:`bot.storage.pg.PgConnection`, which the same repositories use. ``migrations_dir`` names the
    PostgreSQL folder in that case.

    The connection is in autocommit mode (``isolation_level=None``; the repositories use explicit
    transactions) with ``foreign_keys=ON``, ``busy_timeout=5000`` ms, ``synchronous=NORMAL``, WAL journaling
    for file databases (not for ``":memory:"``) and ``row_factory = aiosqlite.Row``. The parent directory is
    created. If migrating fails the connection is closed and the error re-raised.
    """
    if is_postgres_url(path):
        return await open_pg(str(path), migrations_dir)  # type: ignore[return-value]
    memory = str(path) == MEMORY
    if not memory:
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)

    db = await aiosqlite.connect(MEMORY if memory else str(path), isolation_level=None)
    try:
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA busy_timeout = 5000")
        if not memory:
            async with db.execute("PRAGMA journal_mode = WAL") as cur:
                row = await cur.fetchone()
            if row is None or str(row[0]).lower() != "wal":
                log.warning("could not switch %s to WAL journaling (journal_mode=%s)", path, row and row[0])
        await db.execute("PRAGMA foreign_keys = ON")
        await db.execute("PRAGMA synchronous = NORMAL")
        await migrate(db, migrations_dir)
    except BaseException:
        await db.close()
        raise
    return db


class Database:
    """An open connection plus the two repositories built on it."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self.incidents = SqliteIncidentRepository(conn)
        self.settings = SqliteSettingsRepository(conn)

    @classmethod
    async def open(cls, path: str | Path, migrations_dir: Path | None = None) -> "Database":
        return cls(await open_database(path, migrations_dir))

    async def close(self) -> None:
        await self.conn.close()

    async def __aenter__(self) -> "Database":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
