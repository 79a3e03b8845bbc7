"""Several bot processes on one database: throughput, correctness under a SIGKILL, verdict propagation.

For 1, 2 and 4 processes (each its own Discord shard range, see bench/scale_worker.py), against PostgreSQL and
against SQLite, prints:

  incidents/s written, end-to-end messages/s (all processes together, from "go" to the last one done),
  duplicate cards (two cards for one message: must be 0), cards over a channel's hourly cap (must be 0),
  lost incidents after one process is SIGKILLed mid-run and restarted (must be 0),
  verdict propagation latency (a verdict made mid-run by "the dashboard" until every running process has
  learned it; PostgreSQL: LISTEN/NOTIFY, SQLite: the 2 s change-counter poll).

Without --pg a throwaway PostgreSQL cluster is started (tests/helpers/pg_cluster.py; needs the server binaries).
Figures depend on the machine and its load: compare rows of one run, not runs on different machines.

    python bench/scale.py [--messages 3000] [--processes 1 2 4] [--backends postgresql sqlite] [--pg URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests" / "helpers"))

import scale_worker as worker  # noqa: E402

SHARD_COUNT = 12


@dataclass
class ScaleResult:
    backend: str
    processes: int
    messages: int
    seconds: float
    incidents: int
    expected_incidents: int
    lost_incidents: int
    duplicate_cards: int
    over_cap_channels: int
    cards: int
    killed: bool
    verdict_latency: float | None  # seconds until every process that was running at the verdict learned it
    verdict_everywhere: bool  # every process (the restarted one too) learned it by the end

    @property
    def incidents_per_s(self) -> float:
        return self.incidents / self.seconds if self.seconds else 0.0

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def shard_ranges(processes: int, shard_count: int = SHARD_COUNT) -> list[list[int]]:
    per = shard_count // processes
    return [list(range(p * per, shard_count if p == processes - 1 else (p + 1) * per)) for p in range(processes)]


async def _prepare(target, guilds: int) -> None:
    from bot.core.models import ChannelMode
    from bot.core.ports import ServerSettings
    from bot.storage import SqliteSettingsRepository, open_database

    db = await open_database(target)
    try:
        settings = SqliteSettingsRepository(db)
        for g in range(guilds):
            await settings.save_server_settings(
                ServerSettings(platform="discord", server_id=worker.guild_id(g), default_mode=ChannelMode.REPLY))
    finally:
        await db.close()


async def _verdict(target, guild: str) -> float:
    """What the dashboard does on "confirmed": store the verdict, then the exemplar (which is published)."""
    from bot.core.models import IncidentStatus
    from bot.core.ports import IncidentFilter
    from bot.storage import SqliteDashboardRepository, SqliteIncidentRepository, open_database

    db = await open_database(target)
    try:
        incidents = SqliteIncidentRepository(db)
        [inc] = await incidents.list_incidents(IncidentFilter(server_id=guild, order="oldest"), limit=1)
        t0 = time.time()
        await incidents.resolve_incident(inc.id, IncidentStatus.CONFIRMED, "dashboard:admin", None)
        await SqliteDashboardRepository(db).replace_incident_exemplar(
            platform=inc.platform, server_id=inc.server_id, talking_point_id=inc.talking_point_id,
            text=f"{worker.VERDICT_MARK} {inc.content}", lang="en", positive=True, incident_id=inc.id,
            created_by="dashboard:admin")
        return t0
    finally:
        await db.close()


async def _audit(target, messages: int, guilds: int) -> dict:
    from bot.storage import open_database
    from bot.storage._common import fetch_all, fetch_one

    db = await open_database(target)
    try:
        n = (await fetch_one(db, "SELECT COUNT(*) AS n FROM incidents"))["n"]
        rows = await fetch_all(db, "SELECT message_id FROM incidents")
        got = {r["message_id"] for r in rows}
        expected = {f"m{i}" for i in range(messages) if worker.is_incident(i)}
        dup = await fetch_all(db, "SELECT source_message_id, COUNT(*) AS n FROM card_posts"
                                  " GROUP BY platform, channel_id, source_message_id HAVING COUNT(*) > 1")
        dup_incidents = await fetch_all(db, "SELECT message_id FROM incidents GROUP BY platform, channel_id,"
                                            " message_id, talking_point_id HAVING COUNT(*) > 1")
        per_channel = await fetch_all(db, "SELECT channel_id, COUNT(*) AS n FROM card_posts WHERE retracted = 0"
                                          " GROUP BY channel_id")
        pending = (await fetch_one(db, "SELECT COUNT(*) AS n FROM card_posts WHERE post_message_id LIKE 'pending:%'"))["n"]
        cards = sum(int(r["n"]) for r in per_channel)
        return {"incidents": int(n), "expected": len(expected), "lost": len(expected - got),
                "duplicate_cards": len(dup) + len(dup_incidents), "over_cap": sum(1 for r in per_channel if r["n"] > 6),
                "cards": cards, "pending": int(pending)}
    finally:
        await db.close()


def _spawn(target, shards, messages, guilds, status: Path, go: Path, *, resume=False, delay=0.0, poll=2.0):
    cmd = [sys.executable, str(ROOT / "bench" / "scale_worker.py"), "--db", str(target), "--shards",
           ",".join(map(str, shards)), "--shard-count", str(SHARD_COUNT), "--messages", str(messages),
           "--guilds", str(guilds), "--status", str(status), "--go", str(go), "--delay", str(delay),
           "--poll", str(poll)]
    if resume:
        cmd.append("--resume")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(str(status) + ".log", "ab"))


def _status(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


async def run_scale(target, processes: int, messages: int, *, guilds: int = 24, kill: bool = True,
                    verdict: bool = True, delay: float = 0.0, poll: float = 2.0, timeout: float = 600,
                    workdir: Path | None = None) -> ScaleResult:
    backend = "postgresql" if str(target).startswith("postgres") else "sqlite"
    work = Path(workdir or tempfile.mkdtemp(prefix="contextbot-scale-"))
    await _prepare(target, guilds)
    ranges = shard_ranges(processes)
    go = work / f"go-{uuid.uuid4().hex[:6]}"
    statuses = [work / f"worker{p}.json" for p in range(processes)]
    procs = [_spawn(target, ranges[p], messages, guilds, statuses[p], go, delay=delay, poll=poll)
             for p in range(processes)]
    try:
        deadline = time.time() + timeout
        while not all(_status(s).get("ready") for s in statuses):
            for p, proc in enumerate(procs):
                if proc.poll() is not None:
                    raise RuntimeError(f"worker {p} exited early: {Path(str(statuses[p]) + '.log').read_text()[-2000:]}")
            if time.time() > deadline:
                raise TimeoutError("workers did not start")
            await asyncio.sleep(0.05)
        go.touch()
        t_start = time.time()
        killed = False
        verdict_at: float | None = None
        running_at_verdict: list[int] = []
        victim = 0
        share = messages // processes
        while True:
            states = [_status(s) for s in statuses]
            if all(s.get("finished") for s in states) and (not verdict or verdict_at is not None):
                break
            if time.time() > deadline:
                raise TimeoutError(f"run did not finish: {states}")
            for p, proc in enumerate(procs):  # a worker that died on its own fails the run now, not at the deadline
                if proc.poll() is not None and not states[p].get("finished"):
                    raise RuntimeError(f"worker {p} exited with {proc.returncode} before finishing: "
                                       f"{Path(str(statuses[p]) + '.log').read_text()[-2000:]}")
            if kill and not killed and states[victim].get("finished"):
                kill = False  # it finished before the kill point (a tiny run): nothing to kill
            if kill and not killed and int(states[victim].get("handled", 0)) >= share * 0.3:
                procs[victim].send_signal(signal.SIGKILL)
                procs[victim].wait()
                procs[victim] = _spawn(target, ranges[victim], messages, guilds, statuses[victim], go, resume=True,
                                       delay=delay, poll=poll)
                killed = True
            total = sum(int(s.get("handled", 0)) for s in states)
            if verdict and verdict_at is None and total >= messages * 0.4 and (killed or not kill):
                running_at_verdict = [p for p, s in enumerate(states) if not s.get("finished")]
                verdict_at = await _verdict(target, worker.guild_id(0))
            await asyncio.sleep(0.02)
        seconds = max(float(_status(s).get("finished_at", t_start)) for s in statuses) - t_start
        latency = None
        everywhere = not verdict
        if verdict:
            wait_until = time.time() + max(10.0, poll * 5)
            while time.time() < wait_until:  # finished processes linger listening: all of them must learn it
                seen = [_status(s).get("verdict_seen_at") for s in statuses]
                if all(seen):
                    break
                await asyncio.sleep(0.05)
            seen = [_status(s).get("verdict_seen_at") for s in statuses]
            everywhere = all(seen)
            timed = [seen[p] - verdict_at for p in running_at_verdict if seen[p] and seen[p] >= verdict_at]
            latency = max(timed) if timed else None
        audit = await _audit(target, messages, guilds)
    finally:
        go.with_suffix(".stop").touch()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    return ScaleResult(backend, processes, messages, seconds, audit["incidents"], audit["expected"], audit["lost"],
                       audit["duplicate_cards"], audit["over_cap"], audit["cards"], killed, latency, everywhere)


def _row(r: ScaleResult) -> str:
    lat = f"{r.verdict_latency:.3f}" if r.verdict_latency is not None else "n/a"
    return (f"{r.backend:<10} {r.processes:>5} {r.messages:>8} {r.seconds:>8.2f} {r.incidents_per_s:>11.0f}"
            f" {r.messages_per_s:>10.0f} {r.duplicate_cards:>9} {r.over_cap_channels:>7} {r.lost_incidents:>5}"
            f" {lat:>11} {'yes' if r.verdict_everywhere else 'NO':>10} {'yes' if r.killed else 'no':>7}")


async def _main(args: argparse.Namespace) -> int:
    cluster = None
    if "postgresql" in args.backends and not args.pg:
        from pg_cluster import PgCluster

        cluster = PgCluster.start()
    try:
        print(f"{args.messages} messages, {SHARD_COUNT} shards over N processes, one SIGKILL + restart per run,"
              " a verdict mid-run; machine load affects every figure")
        print(f"{'backend':<10} {'procs':>5} {'messages':>8} {'seconds':>8} {'incidents/s':>11} {'messages/s':>10}"
              f" {'dup cards':>9} {'over cap':>7} {'lost':>5} {'verdict (s)':>11} {'everywhere':>10} {'killed':>7}")
        failures = 0
        for backend in args.backends:
            for n in args.processes:
                if backend == "postgresql":
                    if args.pg:
                        target = args.pg
                    else:
                        name = f"scale_{n}_{uuid.uuid4().hex[:6]}"
                        target = await cluster.create_empty(name)
                else:
                    target = Path(tempfile.mkdtemp(prefix="contextbot-scale-")) / "scale.db"
                r = await run_scale(target, n, args.messages, poll=args.poll)
                print(_row(r), flush=True)
                failures += (r.duplicate_cards + r.lost_incidents + r.over_cap_channels) > 0 or not r.verdict_everywhere
        return 1 if failures else 0
    finally:
        if cluster is not None:
            cluster.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=3000)
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--backends", nargs="+", default=["postgresql", "sqlite"], choices=["postgresql", "sqlite"])
    p.add_argument("--pg", help="an EMPTY PostgreSQL database URL to use (default: a throwaway local cluster)")
    p.add_argument("--poll", type=float, default=2.0, help="SQLite change-counter poll interval (s)")
    return asyncio.run(_main(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
