"""The two ways the dashboard is served: ``run_dashboard(app, cfg)`` (``python -m bot run ... --dashboard``) and
``python -m bot dashboard serve`` (the real CLI in a subprocess, stopped with Ctrl-C)."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import aiohttp

from bot.core.models import Action
from bot.dashboard import run_dashboard

from dashboard_helpers import PASSWORDS, SECRET, csrf_of, message

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_for(predicate, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_run_dashboard_serves_and_restores_learning(bot_app, seeded):
    # a verdict stored earlier (e.g. before a restart) that this detector has not seen yet
    from bot.storage import SqliteDashboardRepository

    NATO = seeded.text["nato"]
    store = SqliteDashboardRepository(bot_app.db)
    await store.replace_incident_exemplar(platform="discord", server_id="guild-1",
                                          talking_point_id="nato-expansion-provoked", text=NATO, lang="en",
                                          positive=False, incident_id=seeded.ids["nato"], created_by="earlier")
    assert bot_app.detector.check(NATO, server_id="guild-1").action is Action.REPLY

    port = free_port()
    cfg = replace(bot_app.config, dashboard=replace(bot_app.config.dashboard, port=port))
    out = io.StringIO()
    task = asyncio.create_task(run_dashboard(bot_app, cfg, out=out))
    try:
        await wait_for(lambda: "http://" in out.getvalue() or task.done())
        assert f"contextbot dashboard: http://127.0.0.1:{port}/" in out.getvalue()
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/login") as resp:
                assert resp.status == 200 and "Moderator login" in await resp.text()
        o = await bot_app.service.handle_message(message("guild-1", "debate", NATO, "m-after-restart", "u"))
        assert o.decision.action is Action.NONE and o.card is None  # restored at start
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass


def test_cli_dashboard_serve_end_to_end(tmp_path):
    """`python -m bot dashboard serve`: builds the App from the config, prints the URL, serves, stops on Ctrl-C."""
    from bot.dashboard.auth import hash_password

    port = free_port()
    toml = tmp_path / "contextbot.toml"
    toml.write_text(
        f'[storage]\ndatabase = "{tmp_path / "serve.db"}"\n\n'
        f'[dashboard]\nport = {port}\n\n'
        f'[[dashboard.moderators]]\nusername = "alice"\npassword_hash = "{hash_password(PASSWORDS["alice"])}"\n'
        'servers = ["*"]\nadmin = true\n', encoding="utf-8")
    env = dict(os.environ, CONTEXTBOT_DASHBOARD_SECRET=SECRET, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(toml), "dashboard", "serve"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = ""
        for line in proc.stdout:  # type: ignore[union-attr]
            seen += line
            if "http://" in line:
                break
        assert f"http://127.0.0.1:{port}/" in seen, seen + proc.stderr.read()  # type: ignore[union-attr]

        async def log_in() -> int:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                async with http.get(f"http://127.0.0.1:{port}/login") as resp:
                    token = csrf_of(await resp.text())
                async with http.post(f"http://127.0.0.1:{port}/login", allow_redirects=False,
                                     data={"csrf": token, "username": "alice", "password": PASSWORDS["alice"]}) as resp:
                    assert resp.status == 303
                async with http.get(f"http://127.0.0.1:{port}/overview") as resp:
                    assert "Incidents per day" in await resp.text()
                    return resp.status

        assert asyncio.run(log_in()) == 200
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "stopped" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
