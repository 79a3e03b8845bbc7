"""A throwaway PostgreSQL cluster for the tests: initdb into a temp dir, start on a free port, stop and delete.

Run as root (CI), the cluster belongs to the ``postgres`` user (the server refuses to run as root): the temp
dir is chowned to it and initdb/pg_ctl run through ``runuser -u postgres``. Run as a normal user, they run
as that user. ``fsync=off``: the cluster is thrown away, durability is not under test here.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

TEMPLATE_DB = "contextbot_template"


def find_bindir() -> Path | None:
    for cand in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(cand, "initdb").exists() and Path(cand, "pg_ctl").exists():
            return Path(cand)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgCluster:
    bindir: Path
    root: Path
    port: int
    as_postgres: bool

    @property
    def data(self) -> Path:
        return self.root / "data"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    @classmethod
    def start(cls) -> "PgCluster":
        bindir = find_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found")
        as_postgres = os.geteuid() == 0
        root = Path(tempfile.mkdtemp(prefix="contextbot-pg-"))
        if as_postgres:
            shutil.chown(root, "postgres", "postgres")
        cluster = cls(bindir, root, _free_port(), as_postgres)
        r = cluster._run("initdb", "-D", str(cluster.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                         "--no-sync")
        if r.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(f"initdb failed: {r.stderr[-2000:]}")
        opts = (f"-p {cluster.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
                " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        r = cluster._run("pg_ctl", "-D", str(cluster.data), "-l", str(root / "server.log"), "-w", "-t", "60",
                         "-o", opts, "start")
        if r.returncode != 0:
            log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(f"pg_ctl start failed: {r.stderr[-1000:]} {log[-1000:]}")
        return cluster

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------------------------- databases

    async def _admin(self, sql: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.dsn())
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create_template(self) -> None:
        """A database with every PostgreSQL migration applied, cloned per test (CREATE DATABASE ... TEMPLATE)."""
        import asyncpg

        from bot.storage.pg import migrate_pg

        await self._admin(f"CREATE DATABASE {TEMPLATE_DB}")
        conn = await asyncpg.connect(self.dsn(TEMPLATE_DB))
        try:
            await migrate_pg(conn)
        finally:
            await conn.close()

    async def clone(self, name: str) -> str:
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE_DB}')
        return self.dsn(name)

    async def create_empty(self, name: str) -> str:
        await self._admin(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    async def drop(self, name: str) -> None:
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_with_template() -> PgCluster:
    cluster = PgCluster.start()
    try:
        asyncio.run(cluster.create_template())
    except BaseException:
        cluster.stop()
        raise
    return cluster


def pg_unavailable(reason: str) -> None:
    """No PostgreSQL here: fail when CI requires it (CONTEXTBOT_REQUIRE_PG=1), else skip the test."""
    import pytest

    if os.environ.get("CONTEXTBOT_REQUIRE_PG") == "1":
        pytest.fail(f"PostgreSQL is required (CONTEXTBOT_REQUIRE_PG=1) but unavailable: {reason}")
    pytest.skip(f"PostgreSQL unavailable: {reason}")
