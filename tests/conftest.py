"""Shared fixtures: the real detector is built once per test session (cached on disk by pack fingerprint)."""

from __future__ import annotations

import pytest

from bot.app import build_detector, load_registry
from bot.config import Config


@pytest.fixture(scope="session")
def registry():
    return load_registry(Config())


@pytest.fixture(scope="session")
def detector(registry):
    return build_detector(Config(), registry)
