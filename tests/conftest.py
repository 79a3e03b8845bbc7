"""Shared fixtures: the real detector is built once per test session (cached on disk by pack fingerprint), and a
throwaway PostgreSQL cluster (started on first use) for the tests parametrised over both storage backends."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from pathlib import Path

import pytest

from bot.app import build_detector, load_registry
from bot.config import Config

sys.path.insert(0, str(Path(__file__).parent / "helpers"))

from pg_cluster import PgCluster, pg_unavailable as _pg_unavailable, start_with_template  # noqa: E402

BACKENDS = ["sqlite", "postgresql"]
_db_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def registry():
    return load_registry(Config())


@pytest.fixture(scope="session")
def detector(registry):
    return build_detector(Config(), registry)


@pytest.fixture(scope="session")
def pg_cluster():
    """A local PostgreSQL cluster on a free port with a migrated template database; removed after the session.

    Unavailable (no server binaries, or it will not start): the tests using it skip, unless
    CONTEXTBOT_REQUIRE_PG=1 (CI), where they fail."""
    try:
        cluster = start_with_template()
    except Exception as exc:  # noqa: BLE001 - any failure to start means "no PostgreSQL here"
        cluster = None
        error = f"{type(exc).__name__}: {exc}"
    if cluster is None:
        _pg_unavailable(error)
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_dsn(pg_cluster: PgCluster):
    """A fresh migrated PostgreSQL database (a clone of the template) for one test, dropped afterwards."""
    name = f"t_{os.getpid()}_{next(_db_numbers)}"
    dsn = asyncio.run(pg_cluster.clone(name))
    yield dsn
    asyncio.run(pg_cluster.drop(name))


@pytest.fixture(params=BACKENDS)
def storage_backend(request) -> str:
    return request.param


@pytest.fixture
def database_target(storage_backend, tmp_path, request) -> str | Path:
    """What ``open_database`` opens for this test: an SQLite file under tmp_path or a fresh PostgreSQL database."""
    if storage_backend == "sqlite":
        return tmp_path / "bot.db"
    return request.getfixturevalue("pg_dsn")
