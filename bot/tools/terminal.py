"""Terminal layout for the command line: how wide to lay out, and a ``rich`` console that fits it.

On a terminal the output fits the terminal's width (``COLUMNS`` wins, as everywhere); written to a pipe or a
file it is laid out at a fixed :data:`PIPE_WIDTH` without colours or other escape codes, so the same command
gives the same text in a script and on screen.
"""

from __future__ import annotations

import shutil
from typing import TextIO

from rich import box
from rich.console import Console
from rich.table import Table

__all__ = ["PIPE_WIDTH", "MIN_WIDTH", "is_terminal", "terminal_width", "rich_console", "plain_table"]

PIPE_WIDTH = 100
MIN_WIDTH = 40


def is_terminal(out: TextIO) -> bool:
    isatty = getattr(out, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # closed or odd streams
        return False


def terminal_width(out: TextIO) -> int:
    """Columns to lay ``out`` out in: the terminal's width on a terminal, :data:`PIPE_WIDTH` otherwise."""
    if not is_terminal(out):
        return PIPE_WIDTH
    return max(MIN_WIDTH, shutil.get_terminal_size((PIPE_WIDTH, 24)).columns)


def rich_console(out: TextIO) -> Console:
    """A console writing to ``out`` at :func:`terminal_width`; colours only on a terminal, never markup (the
    text shown is members' messages and pack text, in which ``[brackets]`` are just brackets)."""
    tty = is_terminal(out)
    return Console(file=out, width=terminal_width(out), force_terminal=tty, no_color=not tty,
                   color_system="auto" if tty else None, markup=False, highlight=False, emoji=False,
                   legacy_windows=False)


def plain_table(*columns: str | tuple[str, dict]) -> Table:
    """A borderless table with a header rule; a column is a name or (name, options for ``Table.add_column``)."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), expand=False,
                  header_style="bold")
    for column in columns:
        name, options = (column, {}) if isinstance(column, str) else column
        table.add_column(name, **options)
    return table
