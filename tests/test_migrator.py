"""Migrator: empty -> latest, idempotence, atomic failure, too-new refusal, file validation, PRAGMAs."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import aiosqlite
import pytest

from bot.storage import (
    MigrationError,
    MigrationFileError,
    SchemaTooNewError,
    migrate,
    open_database,
)
from bot.storage.migrator import DEFAULT_MIGRATIONS_DIR, split_statements

# the migrations shipped with the code, e.g. [(1, "0001_initial.sql"), (2, "0002_dashboard.sql")]
SHIPPED = [(int(f.name[:4]), f.name) for f in sorted(DEFAULT_MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))]
LATEST = SHIPPED[-1][0]

EXPECTED_TABLES = {
    "incidents",
    "card_posts",
    "card_feedback",
    "suppressed_replies",
    "server_settings",
    "channel_settings",
    "kv",
    "schema_migrations",
}


@pytest.fixture
async def conn(tmp_path: Path):
    db = await aiosqlite.connect(str(tmp_path / "raw.db"), isolation_level=None)
    yield db
    await db.close()


def write_migrations(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


async def tables(db: aiosqlite.Connection) -> set[str]:
    rows = await db.execute_fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {r[0] for r in rows}


async def versions(db: aiosqlite.Connection) -> list[tuple[int, str]]:
    rows = await db.execute_fetchall("SELECT version, name FROM schema_migrations ORDER BY version")
    return [(r[0], r[1]) for r in rows]


# ------------------------------------------------------------------------------------ happy paths


async def test_empty_database_migrates_to_latest(conn):
    result = await migrate(conn)

    assert SHIPPED[0] == (1, "0001_initial.sql") and [v for v, _ in SHIPPED] == list(range(1, LATEST + 1))
    assert result.applied == [v for v, _ in SHIPPED]
    assert result.current_version == LATEST
    assert EXPECTED_TABLES <= await tables(conn)
    assert await versions(conn) == SHIPPED
    (applied_at,) = (await conn.execute_fetchall("SELECT applied_at FROM schema_migrations"))[0]
    assert datetime.fromisoformat(applied_at).utcoffset().total_seconds() == 0
    assert DEFAULT_MIGRATIONS_DIR.resolve() == (Path(__file__).resolve().parents[1] / "migrations").resolve()


def test_the_package_carries_the_migrations_through_a_link():
    """A wheel copies ``bot/migrations`` (declared as package data), so it must be the repository's folder."""
    root = Path(__file__).resolve().parents[1]
    link = root / "bot" / "migrations"
    assert link.is_symlink() and link.resolve() == (root / "migrations").resolve()
    assert '"migrations/*.sql"' in (root / "pyproject.toml").read_text(encoding="utf-8")


async def test_initial_schema_indexes_and_constraints(conn):
    await migrate(conn)
    rows = await conn.execute_fetchall("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'")
    index_cols = {}
    for name, _tbl in rows:
        cols = await conn.execute_fetchall(f"PRAGMA index_info('{name}')")
        index_cols[name] = tuple(c[2] for c in sorted(cols))
    cols = set(index_cols.values())
    assert ("platform", "channel_id", "message_id") in cols
    assert ("status", "created_at") in cols
    assert ("talking_point_id",) in cols
    assert ("server_id", "author_id", "talking_point_id", "created_at") in cols
    assert ("platform", "post_message_id") in cols  # UNIQUE constraint on card_posts
    assert ("platform", "channel_id", "created_at") in cols

    now = "2025-01-01T00:00:00.000000Z"
    with pytest.raises(sqlite3.IntegrityError):  # status CHECK
        await conn.execute(
            "INSERT INTO incidents (platform, channel_id, message_id, author_id, talking_point_id, stance,"
            " action, status, created_at, updated_at) VALUES ('d','c','m','a','tp','assert','review','bogus',?,?)",
            (now, now),
        )
    await conn.execute(
        "INSERT INTO incidents (platform, channel_id, message_id, author_id, talking_point_id, stance,"
        " action, created_at, updated_at) VALUES ('d','c','m','a','tp','assert','review',?,?)",
        (now, now),
    )
    row = (await conn.execute_fetchall("SELECT status, hit_count, content FROM incidents"))[0]
    assert tuple(row) == ("open", 1, None)


async def test_rerun_applies_nothing(conn):
    first = await migrate(conn)
    before = await conn.execute_fetchall("SELECT sql FROM sqlite_master ORDER BY name")
    second = await migrate(conn)

    assert first.applied == [v for v, _ in SHIPPED]
    assert second.applied == []
    assert second.current_version == LATEST
    assert await versions(conn) == SHIPPED
    assert await conn.execute_fetchall("SELECT sql FROM sqlite_master ORDER BY name") == before


async def test_applies_only_pending_files_in_order(conn, tmp_path):
    d = write_migrations(tmp_path / "m", {"0001_a.sql": "CREATE TABLE a (x INTEGER);"})
    assert (await migrate(conn, d)).applied == [1]
    write_migrations(
        d,
        {
            "0002_b.sql": "CREATE TABLE b (x INTEGER);",
            "0003_c.sql": "ALTER TABLE b ADD COLUMN y TEXT; INSERT INTO b (x, y) VALUES (1, 'one');",
        },
    )
    result = await migrate(conn, d)
    assert result.applied == [2, 3]
    assert result.current_version == 3
    assert await versions(conn) == [(1, "0001_a.sql"), (2, "0002_b.sql"), (3, "0003_c.sql")]
    assert [tuple(r) for r in await conn.execute_fetchall("SELECT x, y FROM b")] == [(1, "one")]


async def test_statement_splitting_handles_strings_comments_and_triggers(conn, tmp_path):
    sql = """
    -- a comment with a ; semicolon
    CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, n INTEGER DEFAULT 0); /* block ; comment */
    CREATE TABLE log (msg TEXT);
    CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN
        INSERT INTO log (msg) VALUES ('inserted; ' || NEW.s);
        UPDATE t SET n = n + 1 WHERE id = NEW.id;
    END;
    INSERT INTO t (s) VALUES ('it''s; -- not a comment');
    -- trailing comment without statement
    """
    d = write_migrations(tmp_path / "m", {"0001_trigger.sql": sql})
    assert (await migrate(conn, d)).applied == [1]
    assert [tuple(r) for r in await conn.execute_fetchall("SELECT s, n FROM t")] == [("it's; -- not a comment", 1)]
    assert [r[0] for r in await conn.execute_fetchall("SELECT msg FROM log")] == ["inserted; it's; -- not a comment"]


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("SELECT 1; SELECT 2;", ["SELECT 1;", "SELECT 2;"]),
        ("SELECT 1;\nSELECT 2", ["SELECT 1;", "SELECT 2"]),  # last statement may omit ';'
        ("SELECT ';';", ["SELECT ';';"]),
        ("-- only ; comments\n/* ; */", []),
        ("", []),
    ],
)
def test_split_statements(script, expected):
    assert split_statements(script) == expected


def test_split_statements_rejects_incomplete_tail():
    with pytest.raises(ValueError, match="incomplete SQL statement"):
        split_statements("CREATE TABLE t (x); CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1;")


# ------------------------------------------------------------------------------------ failure paths


@pytest.mark.parametrize(
    ("bad_sql", "error_fragment"),
    [
        ("CREATE TABLE b (x INTEGER);\nINSERT INTO b VALUES (1);\nCREATE TABLOO c (x);", "syntax error"),
        ("CREATE TABLE b (x INTEGER);\nINSERT INTO b VALUES (1);\nINSERT INTO missing VALUES (1);", "no such table"),
        (
            "CREATE TABLE b (x INTEGER UNIQUE);\nINSERT INTO b VALUES (1);\nINSERT INTO b VALUES (1);",
            "UNIQUE constraint failed",
        ),
    ],
    ids=["syntax-error", "missing-table", "constraint-violation"],
)
async def test_failing_migration_rolls_back_whole_file(conn, tmp_path, bad_sql, error_fragment):
    d = write_migrations(
        tmp_path / "m",
        {"0001_ok.sql": "CREATE TABLE a (x INTEGER);\nINSERT INTO a VALUES (42);", "0002_bad.sql": bad_sql},
    )

    with pytest.raises(MigrationError) as excinfo:
        await migrate(conn, d)

    message = str(excinfo.value)
    assert "0002_bad.sql" in message
    assert "statement 3" in message
    assert error_fragment in message
    assert "stays at version 1" in message
    assert isinstance(excinfo.value.__cause__, sqlite3.Error)
    # 0001 committed, 0002 (its table, its row and its version) rolled back
    assert "a" in await tables(conn)
    assert "b" not in await tables(conn)
    assert await versions(conn) == [(1, "0001_ok.sql")]
    assert [r[0] for r in await conn.execute_fetchall("SELECT x FROM a")] == [42]
    assert not conn.in_transaction

    # fixing the file and rerunning applies exactly the fixed migration
    (d / "0002_bad.sql").write_text("CREATE TABLE b (x INTEGER);", encoding="utf-8")
    result = await migrate(conn, d)
    assert result.applied == [2]
    assert result.current_version == 2
    assert "b" in await tables(conn)


async def test_failing_migration_via_open_database_closes_and_keeps_db_usable(tmp_path):
    d = write_migrations(tmp_path / "m", {"0001_ok.sql": "CREATE TABLE a (x);", "0002_bad.sql": "CREATE TABLE b (x); SELEC 1;"})
    path = tmp_path / "bot.db"
    with pytest.raises(MigrationError, match="0002_bad.sql"):
        await open_database(path, d)

    async with aiosqlite.connect(str(path)) as db:
        assert await versions(db) == [(1, "0001_ok.sql")]
        assert "b" not in await tables(db)
        assert (await db.execute_fetchall("PRAGMA integrity_check"))[0][0] == "ok"


async def test_schema_newer_than_code_is_refused(conn, tmp_path):
    d = write_migrations(
        tmp_path / "m",
        {"0001_a.sql": "CREATE TABLE a (x);", "0002_b.sql": "CREATE TABLE b (x);", "0003_c.sql": "CREATE TABLE c (x);"},
    )
    await conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)")
    await conn.execute("INSERT INTO schema_migrations VALUES (7, '0007_future.sql', '2030-01-01T00:00:00Z')")

    with pytest.raises(SchemaTooNewError) as excinfo:
        await migrate(conn, d)

    assert str(excinfo.value) == (
        "database schema version 7 is newer than this contextbot (knows up to 3); upgrade contextbot"
    )
    assert (excinfo.value.db_version, excinfo.value.code_version) == (7, 3)
    assert isinstance(excinfo.value, MigrationError)
    assert await tables(conn) == {"schema_migrations"}  # nothing applied


async def test_schema_newer_than_bundled_migrations_is_refused(tmp_path):
    path = tmp_path / "bot.db"
    db = await open_database(path)
    await db.execute(f"INSERT INTO schema_migrations VALUES ({LATEST + 1}, '9999_future.sql', '2030-01-01T00:00:00Z')")
    await db.close()

    with pytest.raises(SchemaTooNewError,
                       match=rf"version {LATEST + 1} is newer than this contextbot \(knows up to {LATEST}\)"):
        await open_database(path)


@pytest.mark.parametrize(
    ("files", "error_fragment"),
    [
        (["0001_a.sql", "0003_c.sql"], "gap in migration numbering"),
        (["0002_b.sql"], "gap in migration numbering"),
        (["0001_a.sql", "0001_b.sql"], "duplicate migration number 0001"),
        (["0001_a.sql", "1_b.sql"], "bad migration file name '1_b.sql'"),
        (["0001-a.sql"], "bad migration file name '0001-a.sql'"),
        (["0001_a b.sql"], "bad migration file name"),
        (["00001_a.sql"], "bad migration file name"),
        (["0000_zero.sql"], "numbering starts at 0001"),
    ],
)
async def test_bad_migration_files_are_rejected_before_touching_db(conn, tmp_path, files, error_fragment):
    d = write_migrations(tmp_path / "m", {name: "CREATE TABLE x_%d (x);" % i for i, name in enumerate(files)})

    with pytest.raises(MigrationFileError) as excinfo:
        await migrate(conn, d)

    assert error_fragment in str(excinfo.value)
    assert await tables(conn) == set()


@pytest.mark.parametrize("statement", ["BEGIN;", "COMMIT;", "END TRANSACTION;", "ROLLBACK;", "SAVEPOINT s;"])
async def test_transaction_statements_in_files_are_rejected(conn, tmp_path, statement):
    d = write_migrations(tmp_path / "m", {"0001_a.sql": f"CREATE TABLE a (x);\n{statement}\nCREATE TABLE b (x);"})
    with pytest.raises(MigrationFileError, match="transaction statement"):
        await migrate(conn, d)
    assert await tables(conn) == set()


async def test_missing_directory_and_non_sql_files(conn, tmp_path):
    with pytest.raises(MigrationFileError, match="not found"):
        await migrate(conn, tmp_path / "nope")

    d = write_migrations(tmp_path / "m", {"0001_a.sql": "CREATE TABLE a (x);", "README.md": "notes", ".0002_tmp.sql": "x"})
    result = await migrate(conn, d)
    assert (result.applied, result.current_version) == ([1], 1)


async def test_migrate_refuses_connection_with_open_transaction(conn):
    await conn.execute("BEGIN")
    with pytest.raises(MigrationError, match="open transaction"):
        await migrate(conn)
    await conn.execute("ROLLBACK")


# ------------------------------------------------------------------------------------ open_database


async def test_open_database_file_pragmas(tmp_path):
    path = tmp_path / "nested" / "dir" / "bot.db"
    db = await open_database(path)
    try:
        assert path.exists()
        pragmas = {}
        for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous"):
            async with db.execute(f"PRAGMA {name}") as cur:
                pragmas[name] = (await cur.fetchone())[0]
        assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000, "synchronous": 1}
        assert db.row_factory is aiosqlite.Row
        assert db.isolation_level is None
        assert EXPECTED_TABLES <= await tables(db)
    finally:
        await db.close()

    # reopening an existing, current database applies nothing and keeps WAL
    db = await open_database(str(path))
    try:
        assert await versions(db) == SHIPPED
        async with db.execute("PRAGMA journal_mode") as cur:
            assert (await cur.fetchone())[0] == "wal"
    finally:
        await db.close()


async def test_open_database_in_memory():
    db = await open_database(":memory:")
    try:
        async with db.execute("PRAGMA journal_mode") as cur:
            assert (await cur.fetchone())[0] == "memory"
        assert EXPECTED_TABLES <= await tables(db)
    finally:
        await db.close()


async def test_alert_posts_migration_keeps_the_matrix_alerts_remembered_in_kv(conn, tmp_path):
    """Alerts posted before ``alert_events`` existed were kv rows 'matrix:alert:<event id>' -> incident id: their
    ✅/❌ reactions must keep working after the upgrade."""
    [alerts_file] = DEFAULT_MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_alert_events.sql")
    earlier = {f.name: f.read_text(encoding="utf-8") for f in sorted(DEFAULT_MIGRATIONS_DIR.glob("[0-9]*.sql"))
               if f.name < alerts_file.name}
    d = write_migrations(tmp_path / "m", earlier)
    await migrate(conn, d)
    await conn.execute(
        "INSERT INTO incidents (id, platform, channel_id, message_id, author_id, talking_point_id, stance, action,"
        " created_at, updated_at) VALUES (7, 'matrix', '!r:x', '$m', '@a:x', 'tp', 'assert', 'review', 't', 't')")
    await conn.executemany("INSERT INTO kv (key, value, updated_at) VALUES (?, ?, '2026-01-01T00:00:00.000000Z')", [
        ("matrix:alert:$old_alert", "7"),
        ("matrix:alert:$for_a_deleted_incident", "99"),
        ("matrix:sync_token:@bot:x", "s123"),
    ])
    write_migrations(d, {alerts_file.name: alerts_file.read_text(encoding="utf-8")})
    await migrate(conn, d)
    rows = await conn.execute_fetchall(
        "SELECT platform, incident_id, channel_id, post_message_id, content_removed FROM alert_events")
    assert [tuple(r) for r in rows] == [("matrix", 7, "", "$old_alert", 0)]
