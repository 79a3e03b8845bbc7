"""Fixtures for the dashboard tests: the REAL detector (built once per session, cached in ~/.cache/contextbot),
a temp SQLite database filled through the REAL IncidentService, and the dashboard served on 127.0.0.1.

Each test gets a fresh Detector object (cheap: same encoder and cached model) so server exemplars and point
policies learned in one test never leak into another.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_app, build_detector, load_registry
from bot.config import Config, DetectorConfig
from bot.core.detector import Detector
from bot.dashboard.app import create_app
from bot.dashboard.auth import hash_password

from dashboard_helpers import PASSWORDS, Seeded, dashboard_config, pick_texts, seed


@pytest.fixture(scope="session")
def shared_detector() -> Detector:
    cfg = Config()
    return build_detector(cfg, load_registry(cfg))


@pytest.fixture
def detector(shared_detector: Detector) -> Detector:
    return Detector.build(shared_detector.registry, DetectorConfig(), encoder=shared_detector.encoder)


@pytest.fixture(scope="session")
def texts(shared_detector: Detector) -> dict[str, str]:
    """The seed's message texts, chosen for the current detector (see dashboard_helpers.pick_text)."""
    return pick_texts(shared_detector)


@pytest.fixture(scope="session")
def password_hashes() -> dict[str, str]:
    return {u: hash_password(p) for u, p in PASSWORDS.items()}


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory, shared_detector: Detector, texts, password_hashes) -> tuple[Path, Seeded]:
    """Fill one database through the real IncidentService and Detector, once per session (deciding a message
    takes ~0.2 s); every test gets its own copy of the file."""
    path = tmp_path_factory.mktemp("seed") / "seeded.db"

    async def build() -> Seeded:
        det = Detector.build(shared_detector.registry, DetectorConfig(), encoder=shared_detector.encoder)
        app = await build_app(dashboard_config(password_hashes), detector=det, database=path)
        try:
            return await seed(app, texts)
        finally:
            await app.close()

    return path, asyncio.run(build())


@pytest.fixture
async def bot_app(tmp_path: Path, detector: Detector, password_hashes, seeded_template):
    """The App (real service, fresh detector, a copy of the seeded database) with three dashboard moderators."""
    src, _ = seeded_template
    db = tmp_path / "x.db"
    for suffix in ("", "-wal", "-shm"):
        if Path(str(src) + suffix).exists():
            shutil.copyfile(str(src) + suffix, str(db) + suffix)
    app = await build_app(dashboard_config(password_hashes), detector=detector, database=db)
    try:
        yield app
    finally:
        await app.close()


@pytest.fixture
def seeded(bot_app, seeded_template) -> Seeded:
    return seeded_template[1]


@pytest.fixture
def cfg(bot_app) -> Config:
    return bot_app.config


@pytest.fixture
async def client(bot_app, seeded):
    """An aiohttp test client against the dashboard (cookie jar accepts 127.0.0.1)."""
    server = TestServer(create_app(bot_app, bot_app.config))
    c = TestClient(server)
    await c.start_server()
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
async def live_server(bot_app, seeded):
    """The dashboard on a free port of 127.0.0.1 (for the browser). Yields the base URL."""
    runner = web.AppRunner(create_app(bot_app, bot_app.config), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture
async def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the dashboard's browser tests need Debian's Chromium. "
                    "Run `make test-deps` (or: sudo apt-get install chromium).", pytrace=False)
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()
