"""Forward-only SQL migrations for the contextbot database.

Migration files live in ``migrations/`` at the repository root and are named ``NNNN_name.sql`` (four digits,
then ``_`` and a name of letters, digits and ``_``). Numbers start at 0001 and have no gaps or duplicates.
The migrator owns the ``schema_migrations(version, name, applied_at)`` table; migration files must not create
it and must not contain transaction statements (BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE/END).

Each pending file is applied in one transaction together with its ``schema_migrations`` row: the file is
split into single statements (with :func:`sqlite3.complete_statement`, so ``;`` inside strings, comments
and trigger bodies is handled) and executed one by one between ``BEGIN IMMEDIATE`` and ``COMMIT``. Any
failing statement rolls back the whole file and its version row and raises :class:`MigrationError`; files
applied earlier in the same run stay committed. (``executescript()`` is not used because it COMMITs first.)

Notes for migration authors: ``PRAGMA foreign_keys`` is a no-op inside a transaction, and ``VACUUM`` cannot
run inside one, so neither belongs in a migration file.

A database whose newest recorded version is higher than the newest file is refused with
:class:`SchemaTooNewError` (an older contextbot must not write to a newer schema).
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import aiosqlite

from ._common import connection_lock, to_db_time, utcnow

log = logging.getLogger(__name__)

# The numbered files live in ``migrations/`` at the repository root. ``bot/migrations`` is a symbolic link to it,
# so a built wheel (which copies what the link points at) carries them inside the package; in a checkout both
# names are the same folder. The root folder is the fallback where the link is not one (a checkout without
# symlink support).
_PACKAGED_MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
_REPO_MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
DEFAULT_MIGRATIONS_DIR = _PACKAGED_MIGRATIONS if _PACKAGED_MIGRATIONS.is_dir() else _REPO_MIGRATIONS

_FILE_RE = re.compile(r"^(\d{4})_([A-Za-z0-9_]+)\.sql$")
_TX_KEYWORDS = {"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"}

_CREATE_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""


class MigrationError(RuntimeError):
    """A migration could not be applied (the failing file was rolled back)."""


class MigrationFileError(MigrationError):
    """The migrations directory is malformed (bad name, duplicate number, gap, unreadable/incomplete SQL)."""


class SchemaTooNewError(MigrationError):
    """The database was migrated by a newer contextbot than this one."""

    def __init__(self, db_version: int, code_version: int) -> None:
        self.db_version = db_version
        self.code_version = code_version
        super().__init__(
            f"database schema version {db_version} is newer than this contextbot "
            f"(knows up to {code_version}); upgrade contextbot"
        )


@dataclass(frozen=True)
class Migration:
    version: int
    name: str  # file name, e.g. "0001_initial.sql"
    path: Path
    statements: tuple[str, ...]


@dataclass(frozen=True)
class MigrationResult:
    applied: list[int] = field(default_factory=list)  # versions applied by this call, in order
    current_version: int = 0  # schema version after the call


# ------------------------------------------------------------------------------------- file handling


def _strip_comments(sql: str) -> str:
    """``sql`` without ``--`` and ``/* */`` comments (string literals and quoted identifiers kept intact)."""
    out: list[str] = []
    i, n = 0, len(sql)
    closers = {"'": "'", '"': '"', "`": "`", "[": "]"}
    while i < n:
        ch = sql[i]
        if ch == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j == -1 else j
        elif ch == "/" and sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j == -1 else j + 2
            out.append(" ")
        elif ch in closers:
            j = sql.find(closers[ch], i + 1)
            j = n if j == -1 else j + 1
            out.append(sql[i:j])
            i = j
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _has_code(sql: str) -> bool:
    return bool(_strip_comments(sql).replace(";", " ").strip())


def split_statements(sql: str) -> list[str]:
    """Split a SQL script into single complete statements (comment-only fragments dropped).

    Raises ValueError if the script ends with an incomplete statement (e.g. an unterminated trigger body or
    string literal).
    """
    statements: list[str] = []
    start = 0
    pos = sql.find(";")
    while pos != -1:
        candidate = sql[start : pos + 1]
        if sqlite3.complete_statement(candidate):
            if _has_code(candidate):
                statements.append(candidate.strip())
            start = pos + 1
        pos = sql.find(";", pos + 1)
    tail = sql[start:]
    if _has_code(tail):
        if not sqlite3.complete_statement(tail + "\n;"):
            raise ValueError(f"incomplete SQL statement at end of file: {_preview(tail)}")
        statements.append(tail.strip())
    return statements


def _first_keyword(statement: str) -> str:
    words = _strip_comments(statement).split(None, 1)
    return words[0].rstrip(";").upper() if words else ""


def _preview(statement: str, limit: int = 80) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def discover_migrations(migrations_dir: Path) -> list[Migration]:
    """Read and validate the migration files of ``migrations_dir`` (sorted by version)."""
    if not migrations_dir.is_dir():
        raise MigrationFileError(f"migrations directory not found: {migrations_dir}")

    by_version: dict[int, Path] = {}
    for path in sorted(migrations_dir.iterdir()):
        if path.name.startswith(".") or not path.is_file() or path.suffix.lower() != ".sql":
            continue  # README, editor temp files, sub-directories
        m = _FILE_RE.match(path.name)
        if not m:
            raise MigrationFileError(
                f"bad migration file name {path.name!r} in {migrations_dir}: expected NNNN_name.sql "
                "(four digits, underscore, letters/digits/underscores), e.g. 0002_add_index.sql"
            )
        version = int(m.group(1))
        if version == 0:
            raise MigrationFileError(f"bad migration file name {path.name!r}: numbering starts at 0001")
        if version in by_version:
            raise MigrationFileError(
                f"duplicate migration number {version:04d}: {by_version[version].name} and {path.name}"
            )
        by_version[version] = path

    versions = sorted(by_version)
    for expected, version in enumerate(versions, start=1):
        if version != expected:
            raise MigrationFileError(
                f"gap in migration numbering in {migrations_dir}: expected {expected:04d}_*.sql "
                f"before {by_version[version].name}"
            )

    migrations: list[Migration] = []
    for version in versions:
        path = by_version[version]
        try:
            text = path.read_text(encoding="utf-8")
            statements = split_statements(text)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise MigrationFileError(f"cannot read migration {path.name}: {exc}") from exc
        for stmt in statements:
            if _first_keyword(stmt) in _TX_KEYWORDS:
                raise MigrationFileError(
                    f"migration {path.name} contains a transaction statement ({_preview(stmt)}); "
                    "the migrator wraps each file in its own transaction"
                )
        migrations.append(Migration(version, path.name, path, tuple(statements)))
    return migrations


# ----------------------------------------------------------------------------------------- migrating


async def _current_version(db: aiosqlite.Connection) -> int:
    async with db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def migrate(db: aiosqlite.Connection, migrations_dir: Path | None = None) -> MigrationResult:
    """Bring ``db`` up to the newest migration in ``migrations_dir`` (default: the repo's ``migrations/``).

    Idempotent: a database that is already current applies nothing. Safe against a second process migrating
    the same file at the same time (the version is re-checked after ``BEGIN IMMEDIATE``).
    """
    migrations_dir = Path(migrations_dir) if migrations_dir is not None else DEFAULT_MIGRATIONS_DIR
    migrations = discover_migrations(migrations_dir)  # validate everything before touching the database
    latest = migrations[-1].version if migrations else 0

    async with connection_lock(db):
        if db.in_transaction:
            raise MigrationError("migrate() needs a connection without an open transaction")

        await db.execute(_CREATE_VERSION_TABLE)
        current = await _current_version(db)
        if current > latest:
            raise SchemaTooNewError(current, latest)

        applied: list[int] = []
        for mig in migrations:
            if mig.version <= current:
                continue
            await db.execute("BEGIN IMMEDIATE")
            try:
                now_version = await _current_version(db)
                if now_version >= mig.version:  # another process got here first
                    await db.execute("ROLLBACK")
                    current = now_version
                    continue
                for index, stmt in enumerate(mig.statements, start=1):
                    try:
                        await db.execute(stmt)
                    except sqlite3.Error as exc:
                        raise MigrationError(
                            f"migration {mig.name} failed at statement {index} ({_preview(stmt)}): {exc}; "
                            f"the file was rolled back, database schema stays at version {current}"
                        ) from exc
                await db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (mig.version, mig.name, to_db_time(utcnow())),
                )
                await db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    await db.execute("ROLLBACK")
                raise
            log.info("applied migration %s", mig.name)
            applied.append(mig.version)
            current = mig.version

        return MigrationResult(applied=applied, current_version=current)
