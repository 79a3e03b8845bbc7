"""One bot process for bench/scale.py and tests/test_multiprocess.py: our IncidentService and storage on a shared
database, fed the messages of its own Discord shard range (the gateway's part is played by a deterministic
message stream: every process derives the same stream and handles only the guilds its shards own, as the gateway
would deliver them; a few messages are also delivered to a second process, as across a shard hand-over or a
resume, and a restarted process replays from its last checkpoint: at-least-once delivery).

The detector is a small scripted one (which sentence the text holds decides), so what is measured is the service,
the storage and the coordination between processes, not the sentence encoder. It records the exemplars other
processes' verdicts teach it, so propagation can be timed.

Status (JSON, replaced atomically) goes to ``--status``: handled, checkpoint, verdict_seen_at, finished.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.core.detector import Prepared  # noqa: E402
from bot.core.models import Action, Decision, Explanation, IncomingMessage, Stance  # noqa: E402

POINTS = ("aid-stolen", "bucha-staged", "dirty-bomb", "donbas-genocide")
VERDICT_MARK = "VERDICT-MARK"
CHECKPOINT_EVERY = 20


def guild_id(g: int) -> str:
    return str(((g + 1) << 22) | g)  # a snowflake-shaped id whose shard is (g + 1) % shard_count


def shard_of(guild: str, shard_count: int) -> int:
    return (int(guild) >> 22) % shard_count  # Discord's formula


def message(i: int, guilds: int, channels: int) -> IncomingMessage:
    g = i % guilds
    gid = guild_id(g)
    kind = i % 3  # 0: a confident assertion (reply), 1: an uncertain one (review), 2: chatter
    tp = POINTS[(i // 3) % len(POINTS)]
    text = {0: f"ASSERT {tp}: message {i}", 1: f"REVIEW {tp}: message {i}", 2: f"hello there {i}"}[kind]
    return IncomingMessage(platform="discord", server_id=gid, channel_id=f"{gid}-c{(i // guilds) % channels}",
                           message_id=f"m{i}", author_id=f"u{i % 41}", text=text, link="")


def is_incident(i: int) -> bool:
    return i % 3 != 2


def delivered_to(i: int, guilds: int, shard_count: int) -> set[int]:
    """Shards whose process receives message i: its own, plus the next one for every 25th message."""
    own = shard_of(guild_id(i % guilds), shard_count)
    return {own, (own + 1) % shard_count} if i % 25 == 7 else {own}


def _decision(tp: str | None, stance: Stance | None, action: Action, score: float, incident: bool) -> Decision:
    ex = Explanation(talking_point_id=tp, stance=stance, stance_probs={}, semantic_score=score, lexical_score=score,
                     match_score=score if tp else 0.0, nearest_exemplar=None, nearest_exemplar_stance=None,
                     gated=tp is None, reason="scripted", language="en")
    return Decision(action=action, talking_point_id=tp, stance=stance, score=score, explanation=ex, lang="en",
                    is_incident=incident, candidates=((tp, score),) if tp else ())


@dataclass
class ScriptedDetector:
    on_exemplar: object = None
    exemplars: list = field(default_factory=list)

    def prepare(self, text: str, lang: str | None = None) -> Prepared:
        return Prepared(text, lang or "en", [], text.startswith(("ASSERT", "REVIEW")))

    def gated_decision(self, prepared: Prepared) -> Decision:
        return _decision(None, None, Action.NONE, 0.0, False)

    def decide_prepared(self, items) -> list[Decision]:
        out = []
        for p, _server, _disabled in items:
            tp = p.text.split(" ", 2)[1].rstrip(":")
            if p.text.startswith("ASSERT"):
                out.append(_decision(tp, Stance.ASSERT, Action.REPLY, 0.95, True))
            else:
                out.append(_decision(tp, Stance.ASSERT, Action.REVIEW, 0.6, True))
        return out

    # what bot.dashboard.learning drives
    def add_server_exemplar(self, server_id, talking_point_id, text, positive, embedding=None) -> None:
        self.exemplars.append((server_id, talking_point_id, text, positive))
        if VERDICT_MARK in (text or "") and callable(self.on_exemplar):
            self.on_exemplar()

    def clear_server_exemplars(self, server_id) -> None:
        self.exemplars = [e for e in self.exemplars if e[0] != server_id]

    def set_point_policy(self, server_id, talking_point_id, policy) -> None:
        pass


_WRITE_LOCK = threading.Lock()


def _write(path: Path, data: dict) -> None:
    """Replace the status file atomically. The main loop's checkpoints and the change feed's "verdict seen" (which
    may come from another thread) both write it: one lock, and a temporary name of this process and thread, so one
    writer never renames the other's file away (a shared ``worker0.tmp`` did, and the worker died)."""
    with _WRITE_LOCK:
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)


async def run(args: argparse.Namespace) -> None:
    from bot.app import load_registry
    from bot.config import Config
    from bot.core.service import IncidentService
    from bot.storage import CachingSettingsRepository, SqliteIncidentRepository, SqliteSettingsRepository, open_database
    from bot.sync import start_change_feed

    status_path = Path(args.status)
    status = json.loads(status_path.read_text()) if args.resume and status_path.exists() else {}
    start = max(0, int(status.get("checkpoint", 0)))
    status.update(pid=os.getpid(), finished=False, restarts=int(status.get("restarts", -1)) + 1)
    shards = {int(s) for s in args.shards.split(",")}

    detector = ScriptedDetector()
    db = await open_database(args.db)
    service = IncidentService(detector, load_registry(Config()), SqliteIncidentRepository(db),
                              CachingSettingsRepository(SqliteSettingsRepository(db)), offload=False)

    def seen() -> None:
        if not status.get("verdict_seen_at"):
            status["verdict_seen_at"] = time.time()
            _write(status_path, status)

    detector.on_exemplar = seen
    feed = await start_change_feed(db, service, detector, poll_interval=args.poll)
    await feed.applier.sync.exemplars(None)  # what build_app's restore_learning does at start-up  # type: ignore[attr-defined]
    status["ready"] = True
    _write(status_path, status)
    go = Path(args.go)
    while not go.exists():
        await asyncio.sleep(0.02)

    handled = int(status.get("handled", 0))
    cards = int(status.get("cards", 0))
    for i in range(start, args.messages):
        if not shards & delivered_to(i, args.guilds, args.shard_count):
            continue
        msg = message(i, args.guilds, args.channels)
        outcome = await service.handle_message(msg)
        if outcome.card is not None:
            await asyncio.sleep(0)  # the post to Discord: other work interleaves
            await service.card_posted(msg, outcome, f"post-{msg.message_id}-{os.getpid()}")
            cards += 1
        handled += 1
        if i % CHECKPOINT_EVERY == 0:
            status.update(checkpoint=i, handled=handled, cards=cards)
            _write(status_path, status)
        if args.delay:
            await asyncio.sleep(args.delay)
    status.update(checkpoint=args.messages, handled=handled, cards=cards, finished=True, finished_at=time.time())
    _write(status_path, status)
    # stay until told to stop, so a verdict made late still reaches this process
    stop = Path(args.go).with_suffix(".stop")
    deadline = time.time() + args.linger
    while not stop.exists() and time.time() < deadline:
        await asyncio.sleep(0.05)
    await feed.close()
    await db.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--db", required=True)
    p.add_argument("--shards", required=True, help="comma-separated shard ids of this process")
    p.add_argument("--shard-count", type=int, required=True)
    p.add_argument("--messages", type=int, required=True)
    p.add_argument("--guilds", type=int, default=24)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--status", required=True)
    p.add_argument("--go", required=True, help="start handling once this file exists")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --status (after a kill)")
    p.add_argument("--delay", type=float, default=0.0, help="seconds between messages (to stretch a test run)")
    p.add_argument("--poll", type=float, default=2.0, help="SQLite change-counter poll interval")
    p.add_argument("--linger", type=float, default=60.0)
    asyncio.run(run(p.parse_args(argv)))


if __name__ == "__main__":
    main()
