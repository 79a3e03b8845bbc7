"""`check --server`: the decision a server would get, with what it learned from its moderators' verdicts."""

from __future__ import annotations

import asyncio
import io

from bot.cli import main
from bot.storage import open_database
from bot.storage.dashboard import SqliteDashboardRepository

ASSERTION = "NATO expansion caused this war, period. Russia had no choice but to invade Ukraine."


def run(argv) -> tuple[int, str]:
    out = io.StringIO()
    return main(argv, out=out), out.getvalue()


async def _server_policy(path, server_id: str) -> None:
    """A moderator of ``server_id`` set nato-expansion-provoked to review only (from the dashboard)."""
    db = await open_database(path)
    try:
        await SqliteDashboardRepository(db).save_point_policy("discord", server_id, "nato-expansion-provoked", None, True, "mod")
    finally:
        await db.close()


def test_check_server_applies_what_the_server_learned(tmp_path, capsys):
    db = tmp_path / "bot.db"
    asyncio.run(_server_policy(db, "4242"))
    code, everywhere = run(["check", ASSERTION])
    assert code == 0 and "action:        reply" in everywhere
    code, there = run(["check", "--server", "4242", "--db", str(db), ASSERTION])
    assert code == 0 and "action:        review" in there and "talking point: nato-expansion-provoked" in there
    code, elsewhere = run(["check", "--server", "7", "--db", str(db), ASSERTION])
    assert code == 0 and "action:        reply" in elsewhere  # another server learned nothing

    code, _ = run(["check", "--server", "4242", "--db", str(tmp_path / "missing.db"), ASSERTION])
    assert code == 2 and "missing.db" in capsys.readouterr().err
