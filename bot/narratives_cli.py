"""``python -m bot narratives list|show|export|purge``: emerging narratives for pack authors (issue #16.3).

Kept out of bot/cli.py (which only registers the sub-command and dispatches here)."""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TextIO

from .core.narratives import draft_pack_yaml, draft_talking_point
from .core.packs import PackError


def add_parser(sub, command) -> None:
    n = command(sub, "narratives", help="emerging narratives: on-topic assertions no talking point covers")
    nsub = n.add_subparsers(dest="action", required=True)
    for name in ("list", "show", "export", "purge"):
        q = command(nsub, name)
        q.add_argument("--db", help="SQLite file (default: from the config)")
        if name == "list":
            q.add_argument("--days", type=int, default=7, help="growth window in days (default 7)")
            q.add_argument("--min-servers", type=int, default=1)
            q.add_argument("--limit", type=int, default=30)
        if name in ("show", "export"):
            q.add_argument("id", type=int)
        if name == "export":
            q.add_argument("--claim-id", required=True, help="id of the draft talking point (lowercase, '-')")
            q.add_argument("--claim", required=True, help="the claim, one sentence")
            q.add_argument("--title", help="card title (default: the claim)")
            q.add_argument("--member", type=int, action="append", default=None,
                           help="member id to use as an assert exemplar (repeat; default: the 8 most central)")
            q.add_argument("--out", help="write the YAML here (default: stdout)")
        if name == "purge":
            g = q.add_mutually_exclusive_group()
            g.add_argument("--days", type=int, help="drop member text older than N days (default: retention)")
            g.add_argument("--user", metavar="PLATFORM:AUTHOR_ID")
            g.add_argument("--channel", metavar="PLATFORM:CHANNEL_ID")
            g.add_argument("--server", metavar="PLATFORM:SERVER_ID")


def validate_draft(text: str) -> list[str]:
    """Problems of a draft pack YAML other than the ones a draft is expected to have (empty cards, too few
    exemplars, the ``draft`` key): loaded with the real pack loader."""
    import tempfile

    from .core.packs import load_pack

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "draft.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            load_pack(path)
        except PackError as e:
            return [x.split(": ", 1)[1] if ": " in x else x for x in e.errors if not _expected_draft_gap(x)]
    return []


# What a fresh draft is expected to lack (the pack author writes these): the ``draft`` key itself, the card texts,
# key facts, sources, cards in the other languages, and the labelled exemplars beyond the chosen assertions. An
# empty or too long claim, a bad id or language code, a duplicate exemplar is a real problem and is reported.
_DRAFT_GAPS = re.compile(
    r": draft: "
    r"|: cards\.[\w-]+\.\w+: empty$"
    r"|: cards\.[\w-]+\.key_facts: \d+ items? \(need "
    r"|: cards\.[\w-]+: missing \(the pack lists"
    r"|: sources: \d+ sources? \(need "
    r"|: exemplars\.\w+: \d+ exemplars? \(need "
    r"|: exemplars\.\w+: \d+ languages? \(")


def _expected_draft_gap(err: str) -> bool:
    return _DRAFT_GAPS.search(err) is not None


def _split(value: str) -> tuple[str, str]:
    platform, sep, rest = value.partition(":")
    if not sep or not platform or not rest:
        raise argparse.ArgumentTypeError(f"expected PLATFORM:ID, got {value!r}")
    return platform, rest


async def run(args, out: TextIO, cfg, open_database, check_file) -> int:
    from .storage.narratives import SqliteNarrativeRepository

    path = Path(args.db) if args.db else Path(cfg.storage.database)
    check_file(path)
    db = await open_database(path)
    try:
        repo = SqliteNarrativeRepository(db)
        return await _action(args, out, cfg, repo)
    finally:
        await db.close()


async def _action(args, out: TextIO, cfg, repo) -> int:
    if args.action == "list":
        since = datetime.now(timezone.utc) - timedelta(days=args.days)
        clusters = await repo.list_clusters(since=since, min_servers=args.min_servers, limit=args.limit)
        if not clusters:
            out.write("no emerging narratives\n")
        for c in clusters:
            rep = next((m.content for m in c.representatives if m.content), "(text purged)")
            out.write(f"#{c.id:<5} {c.recent:>4} new / {c.size:>4} in {len(c.servers)} server(s)  "
                      f"{_snip(rep)}\n")
        return 0
    if args.action == "purge":
        return await purge(args, out, repo, cfg.storage.retention_days)
    c = await repo.get_cluster(args.id)
    if c is None:
        out.write(f"no narrative cluster #{args.id}\n")
        return 1
    members = await repo.members(c.id)
    if args.action == "show":
        out.write(f"cluster #{c.id}: {c.size} message(s), servers: "
                  + ", ".join(f"{s} ({n})" for s, n in c.servers.items()) + "\n")
        for m in members:
            out.write(f"  [{m.id}] {m.created_at:%Y-%m-%d %H:%M} {m.platform}:{m.server_id} {m.lang} "
                      f"sim {m.similarity:.2f}  {_snip(m.content or '(text purged)')}\n")
        return 0
    if args.action == "export":
        chosen = [m for m in members if m.content and (args.member is None or m.id in args.member)]
        if args.member is None:
            chosen = chosen[:8]
        if not chosen:
            out.write("no member text left to use as exemplars (purged?)\n")
            return 1
        tp = draft_talking_point(claim_id=args.claim_id, claim=args.claim, title=args.title,
                                 exemplars=[(m.content, m.lang) for m in chosen])
        text = draft_pack_yaml(tp)
        problems = validate_draft(text)
        if problems:
            raise PackError(problems)
        if args.out:
            Path(args.out).write_text(text, encoding="utf-8")
            out.write(f"wrote draft talking point '{tp['id']}' to {args.out} (a pack author must complete it)\n")
        else:
            out.write(text)
        return 0
    raise AssertionError(args.action)


async def purge(args, out: TextIO, repo, retention_days: int) -> int:
    if args.user:
        n = await repo.purge_user(*_split(args.user))
    elif args.channel:
        n = await repo.purge_channel(*_split(args.channel))
    elif args.server:
        n = await repo.purge_server(*_split(args.server))
    else:
        days = args.days if args.days is not None else retention_days
        n = await repo.purge_content_before(datetime.now(timezone.utc) - timedelta(days=days))
        out.write(f"dropped the text of {n} narrative message(s) older than {days} day(s)\n")
        return 0
    out.write(f"removed {n} narrative message(s)\n")
    return 0


def _snip(text: str, n: int = 90) -> str:
    t = " ".join(text.split())
    return t if len(t) <= n else t[: n - 1] + "…"


__all__ = ["add_parser", "run", "validate_draft", "purge"]
