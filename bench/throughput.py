"""Full-pipeline throughput: IncidentService (detector + policy + budget) with SQLite logging, one message at a
time as a bot receives them.

(a) realistic mixed chat: ~2 % on-topic (dev-set messages) in ordinary multilingual chatter
(b) all on-topic (dev-set messages about talking points, every stance)

Prints messages/s, p50/p99 per-message latency, peak RSS, and the ratio against encoding every message one at a
time with the same encoder ("encode every message"). Targets (issue #2): (a) >= 1,000 msg/s, (b) >= 300 msg/s,
p99 <= 20 ms, RSS <= 500 MB.

    python bench/throughput.py [--n 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from chatgen import ordinary_chat  # noqa: E402

from bot.app import build_app  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.core.models import ChannelMode, IncomingMessage  # noqa: E402


def on_topic_messages(n: int, seed: int) -> list[str]:
    rows = [json.loads(x) for x in (ROOT / "data" / "devset.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    pool = [r["text"] for r in rows if r["talking_point"]]
    rnd = random.Random(seed)
    # small variations so repeated texts are not byte-identical
    return [rnd.choice(pool) + ("" if rnd.random() < 0.5 else rnd.choice([" !", " …", " 🤔", " (repost)"])) for _ in range(n)]


def workload(kind: str, n: int) -> list[str]:
    if kind == "mixed":
        chat = ordinary_chat(n, seed=11)
        topical = on_topic_messages(n // 50, seed=12)
        rnd = random.Random(13)
        for t in topical:
            chat[rnd.randrange(n)] = t
        return chat
    return on_topic_messages(n, seed=14)


async def run(kind: str, n: int, app, concurrency: int) -> dict:
    """Feed the messages as a gateway would: up to ``concurrency`` being handled at once (a burst), each
    awaited end to end (decision, incident row, card-post row). Latency runs from the moment a message is
    taken up to the moment its handling (including SQLite writes) is done."""
    texts = workload(kind, n)
    service = app.service
    server = f"bench-{kind}"
    for ch in range(20):
        await service.settings.set_channel_mode("bench", server, f"c{ch}", ChannelMode.REPLY)
    lat: list[float] = []
    outcomes = {"reply": 0, "review": 0, "none": 0, "cards": 0, "gated": 0}
    sem = asyncio.Semaphore(concurrency)

    async def handle(i: int, text: str) -> None:
        async with sem:
            msg = IncomingMessage("bench", server, f"c{i % 20}", str(i), f"u{i % 500}", text)
            t0 = time.perf_counter()
            out = await service.handle_message(msg)
            if out.card is not None:
                await service.card_posted(msg, out, f"bot-{i}")
            lat.append(time.perf_counter() - t0)
            outcomes[out.decision.action.value] += 1
            outcomes["cards"] += out.card is not None
            outcomes["gated"] += out.decision.explanation.gated

    batches0, items0 = service.batcher.batches, service.batcher.items
    t_start = time.perf_counter()
    await asyncio.gather(*(handle(i, t) for i, t in enumerate(texts)))
    total = time.perf_counter() - t_start
    lat.sort()
    batches = service.batcher.batches - batches0
    return {
        "kind": kind, "n": n, "msgs_per_s": n / total,
        "p50_ms": 1000 * lat[len(lat) // 2], "p99_ms": 1000 * lat[int(len(lat) * 0.99)],
        "outcomes": outcomes, "texts": texts,
        "mean_batch": (service.batcher.items - items0) / batches if batches else 0.0,
    }


def encode_every_message(app, texts: list[str]) -> float:
    enc = app.detector.encoder
    t0 = time.perf_counter()
    for t in texts:
        enc.encode([t])
    return len(texts) / (time.perf_counter() - t0)


async def main_async(n: int, sample: int, concurrency: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        app = await build_app(Config(), database=Path(tmp) / "bench.db")
        try:
            app.detector.check("warm up NATO")  # load weights
            results = []
            for kind in ("mixed", "on-topic"):
                r = await run(kind, n, app, concurrency)
                sub = r["texts"][:sample]
                r["encode_all_msgs_per_s"] = encode_every_message(app, sub)
                results.append(r)
        finally:
            await app.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'workload':<10} {'n':>6} {'msg/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'encode-all msg/s':>17} {'ratio':>6} "
          f"{'batch':>6}  outcomes")
    for r in results:
        ratio = r["msgs_per_s"] / r["encode_all_msgs_per_s"]
        print(f"{r['kind']:<10} {r['n']:>6} {r['msgs_per_s']:>8.0f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} "
              f"{r['encode_all_msgs_per_s']:>17.0f} {ratio:>6.2f} {r['mean_batch']:>6.1f}  {r['outcomes']}")
    print(f"concurrency: {concurrency} messages in flight (a gateway burst); batch = mean encoder batch size")
    print(f"peak RSS: {rss_mb:.0f} MB")
    print(f"(encode-all measured on the first {sample} messages of each workload, one message per call)")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--sample", type=int, default=2000, help="messages used for the encode-every-message baseline")
    ap.add_argument("--concurrency", type=int, default=16, help="messages handled at once")
    args = ap.parse_args()
    return asyncio.run(main_async(args.n, args.sample, args.concurrency))


if __name__ == "__main__":
    sys.exit(main())
