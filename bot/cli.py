"""Command line: ``python -m bot <command>``.

check      decide for a text or a JSON-lines file (stable contract, see README)
demo       replay a bundled conversation through the whole pipeline on the console platform
incidents  list | show | resolve | export | purge against the SQLite file
packs      list | validate | check-links | export-claimreview | import-claimreview
run        discord and/or matrix (and optionally the dashboard) in one process
dashboard  the moderators' web dashboard (and hash-password)
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import sys
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Sequence, TextIO

from .config import Config, ConfigError, load_config
from .errors import CliError

log = logging.getLogger("bot")


# ------------------------------------------------------------------------------------------- helpers


def _config(args) -> Config:
    return load_config(args.config)


def _detector(cfg: Config):
    from .app import build_detector, load_registry

    return build_detector(cfg, load_registry(cfg))


def _decision_line(decision, id_) -> dict:
    """The stable JSONL contract: exactly these keys."""
    return {
        "id": id_,
        "talking_point": decision.talking_point_id,
        "stance": decision.stance.value if decision.stance else None,
        "score": round(float(decision.score), 4),
        "action": decision.action.value,
    }


def _print_decision(decision, card, out: TextIO) -> None:
    from .core.cards import card_as_text

    e = decision.explanation
    out.write(f"action:        {decision.action.value}\n")
    out.write(f"talking point: {decision.talking_point_id or '-'}\n")
    out.write(f"stance:        {decision.stance.value if decision.stance else '-'}"
              + (f"  ({', '.join(f'{k} {v:.2f}' for k, v in e.stance_probs.items())})" if e.stance_probs else "") + "\n")
    out.write(f"score:         {decision.score:.3f}  (match {e.match_score:.3f}: semantic {e.semantic_score:.3f}, "
              f"lexical {e.lexical_score:.3f})\n")
    out.write(f"language:      {e.language}\n")
    if e.nearest_exemplar:
        out.write(f"nearest:       [{e.nearest_exemplar_stance.value}] {e.nearest_exemplar}\n")
    out.write(f"why:           {e.reason}\n")
    if card is not None:
        out.write("\n" + card_as_text(card) + "\n")


# ------------------------------------------------------------------------------------------- check


def cmd_check(args, out: TextIO) -> int:
    cfg = _config(args)
    detector = _detector(cfg)
    if args.jsonl:
        return _check_jsonl(detector, args.jsonl, out, batch=args.batch)
    if args.text is None:
        raise CliError("give a text to check, or --jsonl FILE")
    from .core.cards import render_card

    decision = detector.check(args.text, args.lang)
    tp = detector.registry.get(decision.talking_point_id) if decision.talking_point_id else None
    card = render_card(tp, decision.lang) if tp is not None else None
    if args.json:
        out.write(json.dumps(_decision_line(decision, None), ensure_ascii=False) + "\n")
    else:
        _print_decision(decision, card, out)
    return 0


def _check_jsonl(detector, path: str, out: TextIO, *, batch: int = 64) -> int:
    """One output line per input line, in order. A bad line gets action none, a message on stderr and exit 1."""
    src = sys.stdin if path == "-" else None
    try:
        fh = src or open(path, encoding="utf-8", errors="replace")
    except OSError as e:
        raise CliError(f"{path}: {e.strerror}") from None
    failures = 0
    pending: list[tuple[object, str, str | None]] = []

    def flush() -> None:
        if not pending:
            return
        decisions = detector.check_many([p[1] for p in pending], [p[2] for p in pending])
        for (id_, _, _), d in zip(pending, decisions):
            out.write(json.dumps(_decision_line(d, id_), ensure_ascii=False) + "\n")
        pending.clear()

    with fh:
        for n, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            item = None
            try:
                item = json.loads(raw)
                if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                    raise ValueError("expected an object with a string 'text'")
                lang = item.get("lang")
                if lang is not None and not isinstance(lang, str):
                    raise ValueError("'lang' must be a string")
            except ValueError as e:
                flush()
                failures += 1
                id_ = item.get("id") if isinstance(item, dict) else None
                print(f"{path}:{n}: {e}", file=sys.stderr)
                # keep the contract (one line per input, exactly the five keys); the error goes to stderr
                out.write(json.dumps({"id": id_, "talking_point": None, "stance": None, "score": 0.0,
                                      "action": "none"}, ensure_ascii=False) + "\n")
                continue
            pending.append((item.get("id"), item["text"], lang))
            if len(pending) >= batch:
                flush()
    flush()
    return 1 if failures else 0


# ------------------------------------------------------------------------------------------- demo


async def _demo(args, out: TextIO) -> int:
    import tempfile

    from .app import build_app
    from .console import ConsolePlatform, load_conversation
    from .core.models import ChannelMode
    from .core.ports import IncidentFilter

    cfg = _config(args)
    db_path = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="contextbot-demo-")) / "demo.db"
    out.write("contextbot demo: loading the talking-point packs and the multilingual detector…\n")
    app = await build_app(cfg, database=db_path)
    try:
        for pack in app.registry.packs:
            out.write(f"  pack {pack.id} v{pack.version}: {len(pack.talking_points)} talking points\n")
        console = ConsolePlatform(app.service, out)
        await console.set_mode("general", ChannelMode.REPLY)
        await console.set_mode("news", ChannelMode.REVIEW)
        out.write("\nA moderator has set #general to 'reply' and left #news on the safe default 'review'.\n\n")
        outcomes = await console.replay(load_conversation())
        out.write("\n" + "═" * 96 + "\nModerator's incident summary (from SQLite: " + str(db_path) + ")\n\n")
        incidents = await app.service.incidents.list_incidents(IncidentFilter(server_id=console.server_id), limit=100)
        _incident_table(incidents, out)
        cards = sum(1 for o in outcomes if o.card is not None)
        out.write(f"\n{len(outcomes)} messages · {cards} cards posted · {len(incidents)} incidents logged · "
                  f"{sum(1 for o in outcomes if o.suppressed)} replies held back by the budget\n")
        out.write(f"Try: python -m bot incidents list --db {db_path}\n")
    finally:
        await app.close()
    return 0


# ------------------------------------------------------------------------------------------- incidents


def _incident_table(incidents, out: TextIO) -> None:
    from .core.sanitize import safe_snippet

    out.write(f"{'id':>4}  {'status':<14} {'action':<6} {'stance':<7} {'score':>5}  {'talking point':<26} {'where':<18} text\n")
    for i in incidents:
        where = f"{i.platform}:{i.channel_id}"[:18]
        out.write(f"{i.id:>4}  {i.status.value:<14} {i.action.value:<6} {i.stance.value:<7} {i.score:>5.2f}  "
                  f"{i.talking_point_id:<26} {where:<18} {safe_snippet(i.content, 60) or '(purged)'}\n")


async def _with_store(args, fn):
    from .storage import SqliteIncidentRepository, open_database

    cfg = _config(args)
    path = Path(args.db) if args.db else cfg.storage.database
    if not path.exists():
        raise CliError(f"{path}: no such database (run the bot or the demo first, or pass --db)")
    db = await open_database(path)
    try:
        return await fn(SqliteIncidentRepository(db), cfg)
    finally:
        await db.close()


def _filter(args):
    from .core.models import IncidentStatus
    from .core.ports import IncidentFilter

    status = IncidentStatus(args.status) if getattr(args, "status", None) else None
    since = datetime.now(timezone.utc) - timedelta(days=args.days) if getattr(args, "days", None) else None
    return IncidentFilter(platform=getattr(args, "platform", None), server_id=getattr(args, "server", None),
                          channel_id=getattr(args, "channel", None), talking_point_id=getattr(args, "talking_point", None),
                          status=status, since=since)


def _incident_dict(i) -> dict:
    d = asdict(i)
    for k, v in d.items():
        if isinstance(v, datetime):
            d[k] = v.isoformat()
        elif hasattr(v, "value"):
            d[k] = v.value
    return d


async def _incidents(args, out: TextIO) -> int:
    from .core.models import IncidentStatus

    if args.action == "list":
        async def fn(repo, cfg):
            rows = await repo.list_incidents(_filter(args), limit=args.limit, offset=args.offset)
            total = await repo.count_incidents(_filter(args))
            _incident_table(rows, out)
            out.write(f"({len(rows)} of {total})\n")
            return 0
    elif args.action == "show":
        async def fn(repo, cfg):
            i = await repo.get_incident(args.id)
            if i is None:
                raise CliError(f"no incident #{args.id}")
            for k, v in _incident_dict(i).items():
                out.write(f"{k:>18}: {v}\n")
            return 0
    elif args.action == "resolve":
        async def fn(repo, cfg):
            i = await repo.resolve_incident(args.id, IncidentStatus(args.verdict), args.reviewer, args.note)
            if i is None:
                raise CliError(f"no incident #{args.id}")
            out.write(f"incident #{i.id}: {i.status.value} by {i.reviewer}\n")
            return 0
    elif args.action == "export":
        async def fn(repo, cfg):
            rows = [_incident_dict(i) for i in await repo.list_incidents(_filter(args), limit=1_000_000)]
            if args.format == "json":
                json.dump(rows, out, ensure_ascii=False, indent=1)
                out.write("\n")
            else:
                fields = list(rows[0]) if rows else ["id"]
                w = csv.DictWriter(out, fieldnames=fields)
                w.writeheader()
                w.writerows(rows)
            return 0
    elif args.action == "purge":
        async def fn(repo, cfg):
            days = args.days if args.days is not None else cfg.storage.retention_days
            n = await repo.purge_content_before(datetime.now(timezone.utc) - timedelta(days=days))
            out.write(f"purged message content of {n} incidents older than {days} days\n")
            return 0
    else:  # pragma: no cover - argparse restricts choices
        raise CliError(args.action)
    return await _with_store(args, fn)


# ------------------------------------------------------------------------------------------- packs


def cmd_packs(args, out: TextIO) -> int:
    from .app import load_registry
    from .core.packs import load_pack

    cfg = _config(args)
    if args.action == "validate":
        paths = [Path(p) for p in args.paths] or None
        packs = [load_pack(p) for p in paths] if paths else load_registry(cfg).packs
        for p in packs:
            out.write(f"ok  {p.id} v{p.version}: {len(p.talking_points)} talking points ({p.origin})\n")
        return 0
    registry = load_registry(cfg)
    if args.action == "list":
        for p in registry.packs:
            out.write(f"{p.id} v{p.version} — {p.name}\n")
            for tp in p.talking_points:
                out.write(f"  {tp.id:<28} {tp.title}\n")
        return 0
    if args.action == "check-links":
        from .tools.linkcheck import run_check_links

        return asyncio.run(run_check_links(registry.packs, out=out))
    if args.action == "export-claimreview":
        from .core.claimreview import pack_to_claimreview

        items = [item for p in registry.packs if not args.pack or p.id == args.pack for item in pack_to_claimreview(p)]
        json.dump(items, out, ensure_ascii=False, indent=1)
        out.write("\n")
        return 0
    if args.action == "import-claimreview":
        from .core.claimreview import write_imported_pack

        try:
            items = json.loads(Path(args.file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise CliError(f"{args.file}: cannot read ClaimReview JSON: {e}") from None
        items = items if isinstance(items, list) else [items]
        dest = write_imported_pack(items, Path(args.out), args.pack_id)
        out.write(f"wrote draft pack to {dest}; complete the exemplars and cards, then: python -m bot packs validate {dest}\n")
        return 0
    raise CliError(args.action)


# ------------------------------------------------------------------------------------------- run


async def _run(args) -> int:
    from .app import build_app
    from .config import require_discord, require_matrix

    cfg = _config(args)
    platforms = set(args.platforms)
    if "discord" in platforms:
        require_discord(cfg)
    if "matrix" in platforms:
        require_matrix(cfg)
    app = await build_app(cfg)
    tasks = []
    try:
        if "discord" in platforms:
            from .discord_adapter import run_discord

            tasks.append(asyncio.create_task(run_discord(app, cfg), name="discord"))
        if "matrix" in platforms:
            from .matrix_adapter import run_matrix

            tasks.append(asyncio.create_task(run_matrix(app, cfg), name="matrix"))
        if args.dashboard:
            from .dashboard import run_dashboard

            tasks.append(asyncio.create_task(run_dashboard(app, cfg), name="dashboard"))
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for t in pending:
            t.cancel()
        for t in done:
            t.result()
    finally:
        await app.close()
    return 0


# ------------------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot", description="contextbot: context cards for known talking points")
    p.add_argument("--config", help="TOML config file (default: $CONTEXTBOT_CONFIG or ./contextbot.toml)")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("check", help="decide for a text, or for every line of a JSONL file")
    c.add_argument("text", nargs="?")
    c.add_argument("--jsonl", metavar="FILE", help="JSON lines with 'text' (optional 'id', 'lang'); '-' for stdin")
    c.add_argument("--lang", help="language of the text (default: detected)")
    c.add_argument("--json", action="store_true", help="print the JSON decision line instead of the card")
    c.add_argument("--batch", type=int, default=64, help=argparse.SUPPRESS)

    d = sub.add_parser("demo", help="replay a sample conversation through the whole pipeline")
    d.add_argument("--db", help="SQLite file for the demo (default: a new temporary file)")

    i = sub.add_parser("incidents", help="review the incident log")
    isub = i.add_subparsers(dest="action", required=True)
    for name in ("list", "export", "show", "resolve", "purge"):
        q = isub.add_parser(name)
        q.add_argument("--db", help="SQLite file (default: from the config)")
        if name in ("list", "export"):
            q.add_argument("--status", choices=["open", "confirmed", "false_positive", "dismissed"])
            q.add_argument("--talking-point")
            q.add_argument("--platform")
            q.add_argument("--server")
            q.add_argument("--channel")
            q.add_argument("--days", type=int, help="only the last N days")
        if name == "list":
            q.add_argument("--limit", type=int, default=50)
            q.add_argument("--offset", type=int, default=0)
        if name == "export":
            q.add_argument("--format", choices=["csv", "json"], default="csv")
        if name in ("show", "resolve"):
            q.add_argument("id", type=int)
        if name == "resolve":
            q.add_argument("verdict", choices=["confirmed", "false_positive", "dismissed"])
            q.add_argument("--note")
            q.add_argument("--reviewer", default="cli")
        if name == "purge":
            q.add_argument("--days", type=int, help="purge content older than N days (default: storage.retention_days)")

    k = sub.add_parser("packs", help="talking-point packs")
    ksub = k.add_subparsers(dest="action", required=True)
    ksub.add_parser("list")
    v = ksub.add_parser("validate")
    v.add_argument("paths", nargs="*", help="pack directories or files (default: all configured packs)")
    ksub.add_parser("check-links")
    e = ksub.add_parser("export-claimreview")
    e.add_argument("--pack")
    im = ksub.add_parser("import-claimreview")
    im.add_argument("file")
    im.add_argument("--out", required=True)
    im.add_argument("--pack-id", required=True)

    r = sub.add_parser("run", help="run the bot on one or more platforms")
    r.add_argument("platforms", nargs="+", choices=["discord", "matrix"])
    r.add_argument("--dashboard", action="store_true", help="also serve the moderators' dashboard")

    db = sub.add_parser("dashboard", help="the moderators' web dashboard")
    db.add_argument("action", nargs="?", default="serve", choices=["serve", "hash-password"])
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    from .core.packs import PackError

    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "check":
            return cmd_check(args, out)
        if args.command == "demo":
            return asyncio.run(_demo(args, out))
        if args.command == "incidents":
            return asyncio.run(_incidents(args, out))
        if args.command == "packs":
            return cmd_packs(args, out)
        if args.command == "run":
            return asyncio.run(_run(args))
        if args.command == "dashboard":
            from .dashboard import dashboard_main

            return dashboard_main(args, _config(args), out)
    except (ConfigError, PackError, CliError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0
