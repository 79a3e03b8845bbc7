"""Three real bot processes (our IncidentService and storage, bench/scale_worker.py) on three shard ranges of one
PostgreSQL database: thousands of messages, some delivered to two processes, one process SIGKILLed mid-run and
restarted (replaying from its checkpoint), a moderator's verdict made mid-run by "the dashboard"."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import scale  # noqa: E402

pytestmark = pytest.mark.slow


async def test_three_processes_kill_and_verdict(database_target, tmp_path):
    r = await scale.run_scale(database_target, 3, 3000, delay=0.001, poll=0.5, timeout=900, workdir=tmp_path)
    assert r.killed  # one process really was SIGKILLed mid-run and restarted
    assert r.expected_incidents == 2000
    assert r.lost_incidents == 0 and r.incidents == r.expected_incidents  # every incident once, none twice
    assert r.duplicate_cards == 0
    assert r.over_cap_channels == 0 and r.cards > 0  # cards were posted, within every channel's budget
    assert r.verdict_everywhere  # the verdict reached every process, the restarted one included
