"""The moderators' web dashboard (issue #5).

Entry points used by :mod:`bot.cli`:

* ``dashboard_main(args, cfg, out) -> int`` — ``python -m bot dashboard [serve|hash-password]``
* ``await run_dashboard(app, cfg)`` — ``python -m bot run ... --dashboard`` (serves until cancelled)

``restore_learning(db, detector)`` loads learned exemplars and point policies into a detector at start-up.
The web layer (aiohttp) is imported lazily, so the platform-neutral parts (:mod:`.learning`, :mod:`.auth`)
can be used without it.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from typing import TYPE_CHECKING, TextIO

from ..errors import CliError
from .learning import VerdictLearner, restore_learning

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Config


async def run_dashboard(app, cfg: "Config", *, out: TextIO | None = None) -> None:
    """Serve the dashboard for an already built App until cancelled (``run ... --dashboard``)."""
    from .app import run_dashboard as _run

    await _run(app, cfg, out=out)


def _read_password(stdin: TextIO) -> str:
    if stdin.isatty():
        pw = getpass.getpass("New dashboard password: ")
        again = getpass.getpass("Repeat the password: ")
        if pw != again:
            raise CliError("the two passwords differ; nothing was printed")
    else:
        pw = stdin.readline().rstrip("\r\n")
    if not pw:
        raise CliError("empty password; nothing was printed")
    if len(pw) < 8:
        print("warning: a password this short is easy to guess", file=sys.stderr)
    return pw


async def _serve(cfg: "Config", out: TextIO) -> None:
    from ..app import build_app

    out.write("contextbot dashboard: loading the packs and the detector…\n")
    out.flush()
    app = await build_app(cfg)
    try:
        await run_dashboard(app, cfg, out=out)
    finally:
        await app.close()


def dashboard_main(args, cfg: "Config", out: TextIO, *, stdin: TextIO | None = None) -> int:
    """``python -m bot dashboard serve`` (default) or ``python -m bot dashboard hash-password``."""
    from .auth import check_dashboard_config, hash_password

    action = getattr(args, "action", None) or "serve"
    if action == "hash-password":
        pw = _read_password(stdin or sys.stdin)
        out.write(hash_password(pw) + "\n")
        return 0
    check_dashboard_config(cfg)  # refuse early (ConfigError), before the slow detector build
    try:
        asyncio.run(_serve(cfg, out))
    except KeyboardInterrupt:
        out.write("contextbot dashboard: stopped\n")
    return 0


__all__ = ["VerdictLearner", "dashboard_main", "restore_learning", "run_dashboard"]
