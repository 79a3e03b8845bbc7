"""Fixtures for the Matrix tests: a real Synapse (session-scoped), real users and the real bot.

Synapse comes from ``.venv-synapse`` (``make test-deps``). When it is missing the Synapse tests FAIL with a
message saying so; set ``CONTEXTBOT_SKIP_SYNAPSE=1`` to skip them instead.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synapse_server import SYNAPSE_PYTHON, SynapseServer  # noqa: E402

_SERVER: SynapseServer | None = None


@pytest.fixture(scope="session")
def synapse(tmp_path_factory) -> SynapseServer:
    global _SERVER
    if not SYNAPSE_PYTHON.exists():
        if os.environ.get("CONTEXTBOT_SKIP_SYNAPSE") == "1":
            pytest.skip("Synapse tests skipped (CONTEXTBOT_SKIP_SYNAPSE=1)")
        pytest.fail(f"Synapse is not installed ({SYNAPSE_PYTHON} is missing): run `make test-deps` "
                    "(or set CONTEXTBOT_SKIP_SYNAPSE=1 to skip the Matrix homeserver tests)", pytrace=False)
    server = SynapseServer(tmp_path_factory.mktemp("synapse"))
    try:
        server.start()
    except Exception as e:
        pytest.fail(f"could not start Synapse: {e}", pytrace=False)
    _SERVER = server
    try:
        yield server
    finally:
        server.stop()
        _SERVER = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and _SERVER is not None and "synapse" in getattr(item, "fixturenames", ()):
        rep.sections.append(("Synapse log", _SERVER.log_tail(60)))


@pytest.fixture(scope="session")
def detector():
    """The real detector, built once for the whole session (building it loads the encoder)."""
    from bot.app import build_detector, load_registry
    from bot.config import Config

    cfg = Config()
    return build_detector(cfg, load_registry(cfg))


@pytest.fixture
async def app(detector, tmp_path):
    """The real App (real IncidentService, real SQLite) on a fresh database."""
    from bot.app import build_app
    from bot.config import Config

    application = await build_app(Config(), detector=detector, database=tmp_path / "bot.db")
    try:
        yield application
    finally:
        await application.close()


@dataclass
class People:
    alice: object  # room owner (power 100), an allowed inviter
    mod: object  # power 50 in the test rooms
    member: object  # power 0
    other: object  # power 0, a second member


@pytest.fixture(scope="session")
def accounts(synapse):
    return {name: synapse.register(synapse.unique(name)) for name in ("alice", "mod", "member", "other", "outsider")}


@pytest.fixture
async def people(synapse, accounts):
    from matrix_harness import Member

    members = {name: await Member(synapse, accounts[name]).start() for name in ("alice", "mod", "member", "other")}
    try:
        yield People(**members)
    finally:
        for m in members.values():
            await m.close()


@pytest.fixture
def bot_account(synapse):
    """A fresh bot account per test, so tests do not see each other's rooms."""
    return synapse.register(synapse.unique("contextbot"))
