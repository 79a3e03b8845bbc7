"""The throughput benchmark still runs end to end (tiny sizes; its figures are printed, never asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_throughput_bench_runs_and_reports_every_figure(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "throughput.py"), "--n", "300", "--sample", "20", "--seconds", "0.5",
         "--mixed-rates", "200", "--on-topic-rates", "40"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "encoder in its own process" in out
    for kind in ("mixed", "on-topic"):
        # throughput row: workload, n, msg/s, batch, ratio, and outcomes that add up to n
        row = re.search(rf"^{kind}\s+300\s+(\d+)\s+([\d.]+)\s+([\d.]+)× .*\{{'reply': (\d+), 'review': (\d+), 'none': (\d+)",
                        out, re.M)
        assert row, out
        assert sum(int(row.group(i)) for i in (4, 5, 6)) == 300
        assert re.search(rf"^{kind}\s+\d+/s\s+Poisson\s+\d+\s+\d+%\s+(?:[\d.]+%|n/a)\s+[\d.]+\s+[\d.]+\s+[\d.]+$", out, re.M), out
        assert re.search(rf"^{kind}\s+[\d.]+\s+[\d.]+\s+[\d.]+$", out, re.M), out  # service-time row
    # the first on-topic rate again, evenly spaced (how often a message waits depends on the machine: not asserted)
    assert re.search(r"^on-topic\s+40/s\s+even\s+20\s+\d+%\s+(?:[\d.]+%|n/a)\s+[\d.]+\s+[\d.]+\s+[\d.]+$", out, re.M), out
    rss = re.search(r"peak RSS: (\d+) MB \(bot process (\d+) MB \+ encoder process (\d+) MB\)", out)
    assert rss, out
    total, bot, child = (int(rss.group(i)) for i in (1, 2, 3))
    assert child > 0 and abs(total - bot - child) <= 1  # both processes counted (rounded separately)
    assert re.search(r"^start-up with a warm cache .*: median [\d.]+ s of 3 \(", out, re.M), out
    assert re.search(r"^normalisation: \d+ µs per on-topic message, language detection \d+ µs", out, re.M), out
    assert re.search(r"^  100 KB of evasion tricks\s+[\d.]+ ms$", out, re.M), out


def _throughput_module():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import throughput
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return throughput


def test_steal_share_is_the_hypervisors_part_of_the_cpu_time_between_two_readings():
    throughput = _throughput_module()
    assert throughput.steal_share((10, 1000), (15, 1500)) == 0.01
    assert throughput.steal_share((10, 1000), (10, 1000)) is None  # no time passed: no share
    assert throughput.steal_share(None, (15, 1500)) is None  # not Linux
    ticks = throughput.cpu_ticks()
    if Path("/proc/stat").exists():
        steal, total = ticks
        assert 0 <= steal <= total and total > 0


async def test_open_loop_arrivals_come_once_in_order_and_never_early():
    throughput = _throughput_module()
    import time

    start = time.perf_counter() + 0.005
    due = [start + 0.001 * k for k in range(50)] + [start + 0.06]  # a burst, then a gap
    got = []
    async for i in throughput.Arrivals(due).each():
        got.append((i, time.perf_counter()))
    assert [i for i, _ in got] == list(range(len(due)))
    assert all(t >= due[i] for i, t in got)


def test_throughput_bench_compares_narrative_clustering_on_and_off(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "throughput.py"), "--n", "200", "--narratives-ab", "1"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    for kind in ("mixed", "on-topic"):  # workload, msg/s on, msg/s off, their ratio
        assert re.search(rf"^{kind}\s+\d+\s+\d+\s+[\d.]+\s+\d+ / \d+$", proc.stdout, re.M), proc.stdout
        assert re.search(rf"^{kind}\s+\d+\s+\d+\s+[\d.]+$", proc.stdout, re.M), proc.stdout  # CPU per message
    assert re.search(r"clusters in memory \d+ \(bound 2048\)", proc.stdout), proc.stdout
