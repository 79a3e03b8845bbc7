"""``python -m bot db copy --from A --to B``: copy every table between databases (SQLite <-> PostgreSQL).

Both ends are opened (and migrated) with :func:`bot.storage.open_database`, so the target has the same schema
version. The source must not be newer than this contextbot; the target must be empty (no rows in any copied
table), otherwise nothing is written. Rows keep their ids (the PostgreSQL identity columns are ``BY DEFAULT``; the
sequences are moved past the copied ids afterwards). Everything is written in one transaction, and the row
counts of every table are compared before it commits.

Tables are copied parents first (foreign keys), with the triggers' effects already in the rows: on PostgreSQL the
target's triggers are switched off for the copy (``session_replication_role = replica``), on SQLite the copy
goes into the file as stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._common import fetch_all, fetch_one
from .db import open_database

# parents before children; schema_migrations is written by the migrator on open
TABLES = (
    "incidents", "card_posts", "card_feedback", "suppressed_replies", "server_settings", "channel_settings", "kv",
    "server_exemplars", "point_policies", "dashboard_audit", "alert_posts", "alert_incidents", "alert_events",
    "dashboard_sessions",
)
BATCH = 500


class CopyError(RuntimeError):
    pass


@dataclass(frozen=True)
class CopyReport:
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _dialect(db: Any) -> str:
    return getattr(db, "dialect", "sqlite")


async def _tables(db: Any) -> list[str]:
    if _dialect(db) == "postgresql":
        rows = await fetch_all(db, "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()")
    else:
        rows = await fetch_all(db, "SELECT name FROM sqlite_master WHERE type = 'table'")
    return [r["name"] for r in rows]


async def _columns(db: Any, table: str) -> list[str]:
    rows = await fetch_all(db, f"SELECT * FROM {table} LIMIT 0")  # noqa: S608 - table names are our constants
    if rows:
        return list(rows[0])
    cur = await db.execute(f"SELECT * FROM {table} LIMIT 0")
    return [d[0] for d in cur.description or ()]


async def _count(db: Any, table: str) -> int:
    row = await fetch_one(db, f"SELECT COUNT(*) AS n FROM {table}")
    return int(row["n"]) if row else 0


async def copy_database(source: str | Path, target: str | Path) -> CopyReport:
    src = await open_database(source)
    try:
        dst = await open_database(target)
        try:
            return await _copy(src, dst)
        finally:
            await dst.close()
    finally:
        await src.close()


async def _copy(src: Any, dst: Any) -> CopyReport:
    src_tables, dst_tables = set(await _tables(src)), set(await _tables(dst))
    unknown = sorted(src_tables - dst_tables - {"sqlite_sequence"})
    if unknown:
        raise CopyError(f"the target has no table(s) {unknown}: is the source from a newer contextbot?")
    tables = [t for t in TABLES if t in src_tables] + sorted(src_tables & dst_tables - set(TABLES)
                                                             - {"schema_migrations", "sqlite_sequence"})
    busy = {t: n for t in tables if (n := await _count(dst, t))}
    if busy:
        raise CopyError(f"the target is not empty ({', '.join(f'{t}: {n} rows' for t, n in busy.items())}); "
                        "refusing to overwrite it")
    counts: dict[str, int] = {}
    pg = _dialect(dst) == "postgresql"
    await dst.execute("BEGIN")
    try:
        if pg:
            await dst.execute("SET LOCAL session_replication_role = replica")  # rows carry the triggers' results
        else:
            await dst.execute("PRAGMA defer_foreign_keys = ON")
        for table in tables:
            cols = await _columns(src, table)
            dst_cols = set(await _columns(dst, table))
            cols = [c for c in cols if c in dst_cols]
            marks = ", ".join("?" for _ in cols)
            insert = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})"
            order = "id" if "id" in cols else ", ".join(cols[:2])
            copied, offset = 0, 0
            while True:
                rows = await fetch_all(src, f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order} LIMIT ? OFFSET ?",
                                       (BATCH, offset))
                if not rows:
                    break
                for r in rows:
                    await dst.execute(insert, tuple(r[c] for c in cols))
                copied += len(rows)
                offset += len(rows)
            counts[table] = copied
            if pg and "id" in cols:
                await dst.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1),"
                    f" (SELECT MAX(id) FROM {table}) IS NOT NULL)")
        for table in tables:  # every row arrived (checked inside the transaction, before it commits)
            want, got = await _count(src, table), await _count(dst, table)
            if want != got:
                raise CopyError(f"{table}: source has {want} rows, target {got}; nothing was copied")
        await dst.execute("COMMIT")
    except BaseException:
        if dst.in_transaction:
            await dst.execute("ROLLBACK")
        raise
    return CopyReport(counts)


__all__ = ["CopyError", "CopyReport", "TABLES", "copy_database"]
