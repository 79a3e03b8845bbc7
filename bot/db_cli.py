"""``python -m bot db ...`` (database maintenance), kept out of bot/cli.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, TextIO

from .storage.pg import is_postgres_url, redact


def _target(value: str) -> str | Path:
    return value if is_postgres_url(value) else Path(value).expanduser()


def db_main(args: Any, out: TextIO) -> int:
    from .errors import CliError
    from .storage.copy import CopyError, copy_database

    if args.action == "copy":
        source, target = _target(args.source), _target(args.target)
        if isinstance(source, Path) and not source.exists():
            raise CliError(f"{source}: no such database file")
        try:
            report = asyncio.run(copy_database(source, target))
        except CopyError as exc:
            raise CliError(str(exc)) from exc
        for table, n in report.counts.items():
            print(f"{table:20} {n:>9} rows", file=out)
        shown = redact(str(target)) if isinstance(target, str) else target
        print(f"copied {report.total} rows into {shown}; row counts match", file=out)
        return 0
    return 2
