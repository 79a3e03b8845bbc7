"""Errors shared by the command line and the parts it runs (kept apart so neither imports the other for them)."""

from __future__ import annotations


class CliError(Exception):
    """A clear, expected error: printed without a traceback, exit code 2."""


__all__ = ["CliError"]
