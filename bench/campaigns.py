"""The cost of campaign tracking (issue 16) per message, and how much state it keeps.

Decisions are computed once with the real detector (in process); then only the campaign desk's ``observe`` is
timed over them (tracker, plus SQLite writes when a campaign is raised or grows), for
(a) the mixed stream of bench/throughput.py (ordinary chat, ~2 % on-topic), and
(b) a raid: the recorded raid of tests/fixtures/campaign_raid.json replayed by many servers.
Prints microseconds per message and the tracker's state counts (bounded per server and window).

    python bench/campaigns.py [--n 20000] [--raid-servers 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from throughput import workload  # noqa: E402

from bot.config import DetectorConfig  # noqa: E402
from bot.core.campaign_desk import CampaignDesk  # noqa: E402
from bot.core.campaigns import CampaignSettings, CampaignTracker  # noqa: E402
from bot.core.detector import Detector  # noqa: E402
from bot.core.models import IncomingMessage  # noqa: E402
from bot.core.packs import PackRegistry  # noqa: E402
from bot.storage import open_database  # noqa: E402
from bot.storage.campaigns import SqliteCampaignRepository  # noqa: E402

T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)


def decide_all(detector: Detector, texts: list[str]) -> list:
    out = []
    for i in range(0, len(texts), 64):
        chunk = [detector.prepare(t) for t in texts[i:i + 64]]
        out += detector.decide_prepared([(p, None, ()) for p in chunk])
    return out


async def timed(desk: CampaignDesk, items: list[tuple[IncomingMessage, object]]) -> tuple[float, int]:
    events = 0
    t0 = time.perf_counter()
    for msg, d in items:
        events += await desk.observe(msg, d, None, msg.created_at) is not None
    return (time.perf_counter() - t0) / len(items) * 1e6, events


async def main_async(args) -> int:
    registry = PackRegistry.load()
    detector = Detector.build(registry, DetectorConfig())
    texts = workload("mixed", args.n)
    decisions = decide_all(detector, texts)
    mixed = [(IncomingMessage("bench", f"s{i % 10}", f"c{i % 20}", str(i), f"u{i % 500}", t,
                              created_at=T0 + timedelta(seconds=i * 0.05)), d)
             for i, (t, d) in enumerate(zip(texts, decisions))]
    fx = json.loads((ROOT / "tests" / "fixtures" / "campaign_raid.json").read_text())
    raid_texts = [e["text"] for e in fx["raid"]]
    raid_dec = decide_all(detector, raid_texts)
    raid = [(IncomingMessage("bench", f"r{s}", e["channel"], f"{s}-{k}", f"{s}-{e['author']}", e["text"],
                             created_at=T0 + timedelta(seconds=e["t"])), d)
            for s in range(args.raid_servers) for k, (e, d) in enumerate(zip(fx["raid"], raid_dec))]
    with tempfile.TemporaryDirectory() as tmp:
        db = await open_database(Path(tmp) / "bench.db")
        try:
            print(f"campaign tracking cost (desk.observe: tracker + SQLite writes on campaign events), "
                  f"real detector decisions; {CampaignSettings()}")
            for name, items in (("mixed", mixed), ("raid", raid)):
                tracker = CampaignTracker()
                us, events = await timed(CampaignDesk(tracker, SqliteCampaignRepository(db)), items)
                print(f"{name:<6} {len(items):>7} msgs  {us:>7.1f} µs/msg  {events:>5} campaign events  "
                      f"state {tracker.counts()}")
            cap = CampaignTracker(CampaignSettings(max_groups=64, max_members=50))
            rnd = random.Random(5)
            words = [w for t in texts[:2000] for w in t.split()]
            flood = [(IncomingMessage("bench", "flood", "c", str(i), f"u{i}", " ".join(rnd.choices(words, k=30)),
                                      created_at=T0 + timedelta(seconds=i)), decisions[0]) for i in range(20000)]
            us, _ = await timed(CampaignDesk(cap, SqliteCampaignRepository(db)), flood)
            print(f"flood  {len(flood):>7} msgs  {us:>7.1f} µs/msg  (20,000 distinct long texts on one server; "
                  f"caps 64 groups x 50) state {cap.counts()}")
        finally:
            await db.close()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000, help="mixed-stream messages")
    ap.add_argument("--raid-servers", type=int, default=50, help="servers replaying the recorded raid")
    return asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
