"""PostgreSQL specifics: migration twins, SQL translation, the advisory-locked migrator, DSN handling."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from bot.storage import SchemaTooNewError, open_database
from bot.storage.migrator import DEFAULT_MIGRATIONS_DIR, discover_migrations
from bot.storage.pg import (
    PG_MIGRATIONS_DIR,
    PgConnection,
    discover_pg_migrations,
    dsn_with_password,
    migrate_pg,
    redact,
    translate,
)


def test_every_sqlite_migration_has_a_postgresql_twin():
    sqlite = [m.name for m in discover_migrations(DEFAULT_MIGRATIONS_DIR)]
    pg = [m.name for m in discover_pg_migrations(PG_MIGRATIONS_DIR)]
    missing = sorted(set(sqlite) - set(pg))
    assert not missing, f"port these to migrations/postgresql/ (see its README.md): {missing}"
    assert pg == sqlite


@pytest.mark.parametrize(
    ("sql", "params", "expected"),
    [
        ("SELECT * FROM t WHERE a = ? AND b = ?", ("x", 3), "SELECT * FROM t WHERE a = $1::text AND b = $2::bigint"),
        ("UPDATE t SET f = ?, g = ? WHERE id = ?", (0.5, None, 1), "UPDATE t SET f = $1::float8, g = $2 WHERE id = $3::bigint"),
        ("SELECT '?' || ? AS q", ("a",), "SELECT '?' || $1::text AS q"),  # a ? inside a literal stays
        ("BEGIN IMMEDIATE", (), "BEGIN"),
        ("INSERT OR IGNORE INTO x (a) VALUES (?)", (1,), "INSERT INTO x (a) VALUES ($1::bigint) ON CONFLICT DO NOTHING"),
        ("SELECT 1 WHERE k IN (SELECT value FROM json_each(?))", ('["a"]',),
         "SELECT 1 WHERE k IN (SELECT value FROM json_array_elements_text($1::json) AS j(value))"),
        ("SELECT ?", (b"\x00",), "SELECT $1::bytea"),
    ],
)
def test_translate(sql, params, expected):
    assert translate(sql, params) == expected


def test_translate_refuses_wrong_parameter_count():
    with pytest.raises(ValueError):
        translate("SELECT ?", ())


@pytest.mark.parametrize(
    ("dsn", "password", "expected"),
    [
        ("postgresql://bot@db:5432/cb", "s3cr:t", "postgresql://bot:s3cr%3At@db:5432/cb"),
        ("postgresql://bot:inline@db/cb", "other", "postgresql://bot:inline@db/cb"),  # the URL's own wins
        ("postgresql://bot@db/cb", "", "postgresql://bot@db/cb"),
    ],
)
def test_password_from_environment(dsn, password, expected):
    assert dsn_with_password(dsn, password) == expected
    assert "s3cr" not in redact(dsn_with_password(dsn, password)) or password == ""


async def test_open_database_reads_password_env(pg_dsn, monkeypatch):
    monkeypatch.setenv("CONTEXTBOT_DB_PASSWORD", "unused-with-trust-auth")
    db = await open_database(pg_dsn)
    try:
        assert isinstance(db, PgConnection)
        assert [tuple(r) for r in await db.execute_fetchall("SELECT COUNT(*) FROM schema_migrations")] == [
            (len(discover_pg_migrations()),)]
    finally:
        await db.close()


async def test_concurrent_migrations_apply_each_file_once(pg_cluster):
    name = f"mig_{uuid.uuid4().hex[:8]}"
    dsn = await pg_cluster.create_empty(name)
    try:
        conns = [await asyncpg.connect(dsn) for _ in range(4)]
        results = await asyncio.gather(*(migrate_pg(c) for c in conns))
        applied = sorted(v for r in results for v in r.applied)
        assert applied == list(range(1, len(discover_pg_migrations()) + 1))  # each version by exactly one
        assert {r.current_version for r in results} == {len(discover_pg_migrations())}
        again = await migrate_pg(conns[0])
        assert again.applied == []
        await conns[0].execute("INSERT INTO schema_migrations VALUES (999, '0999_future.sql', 'x')")
        with pytest.raises(SchemaTooNewError):
            await migrate_pg(conns[1])
        for c in conns:
            await c.close()
    finally:
        await pg_cluster.drop(name)


async def test_integrity_errors_look_like_sqlite(pg_dsn):
    import sqlite3

    db = await open_database(pg_dsn)
    try:
        await db.execute("INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)", ("k", "v", "t"))
        with pytest.raises(sqlite3.IntegrityError):
            await db.execute("INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)", ("k", "v", "t"))
    finally:
        await db.close()


async def test_the_app_runs_on_postgresql_with_a_change_feed(pg_dsn, detector):
    from bot.app import build_app
    from bot.config import Config
    from bot.core.models import ChannelMode, IncomingMessage

    app = await build_app(Config(), detector=detector, database=pg_dsn)
    try:
        assert app.change_feed.mechanism == "listen"
        await app.service.settings.set_channel_mode("discord", "g1", "c1", ChannelMode.LOG)
        msg = IncomingMessage(platform="discord", server_id="g1", channel_id="c1", message_id="m1", author_id="a1",
                              text="The Bucha massacre was staged for the cameras with paid actors.", link="")
        outcome = await app.service.handle_message(msg)
        assert outcome.mode is ChannelMode.LOG
        assert outcome.decision.is_incident and outcome.incident is not None
        # recorded in PostgreSQL, read back through the same repository
        assert (await app.service.incidents.get_incident(outcome.incident.id)).message_id == "m1"
    finally:
        await app.close()


async def test_a_failing_migration_rolls_back_its_file_only(pg_cluster, tmp_path):
    from bot.storage import MigrationError

    (tmp_path / "0001_first.sql").write_text("CREATE TABLE a (x INTEGER);\n")
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE b (x INTEGER);\nSELECT no_such_function();\n")
    name = f"mig_{uuid.uuid4().hex[:8]}"
    dsn = await pg_cluster.create_empty(name)
    conn = await asyncpg.connect(dsn)
    try:
        with pytest.raises(MigrationError, match="0002_broken.sql"):
            await migrate_pg(conn, tmp_path)
        assert await conn.fetchval("SELECT MAX(version) FROM schema_migrations") == 1
        assert await conn.fetchval("SELECT to_regclass('a') IS NOT NULL") is True
        assert await conn.fetchval("SELECT to_regclass('b') IS NULL") is True  # 0002 left nothing behind
    finally:
        await conn.close()
        await pg_cluster.drop(name)


@pytest.mark.parametrize("file", ["BEGIN;\nCREATE TABLE a (x INT);\nCOMMIT;\n", "CREATE TABLE a (x INT);\nROLLBACK;\n"])
def test_transaction_statements_are_refused_but_function_bodies_are_not(tmp_path, file):
    from bot.storage import MigrationFileError

    (tmp_path / "0001_x.sql").write_text(file)
    with pytest.raises(MigrationFileError):
        discover_pg_migrations(tmp_path)
    (tmp_path / "0001_x.sql").write_text(
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$;\n")
    assert [m.name for m in discover_pg_migrations(tmp_path)] == ["0001_x.sql"]


@pytest.mark.parametrize(("required", "outcome"), [("1", "failed"), ("", "skipped")])
def test_missing_postgresql_fails_in_ci_and_skips_locally(monkeypatch, required, outcome):
    from _pytest.outcomes import Failed, Skipped

    from pg_cluster import pg_unavailable as _pg_unavailable

    monkeypatch.setenv("CONTEXTBOT_REQUIRE_PG", required)
    with pytest.raises(Failed if outcome == "failed" else Skipped):
        _pg_unavailable("no initdb")
