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
import codecs
import contextlib
import csv
import json
import logging
import os
import shlex
import sqlite3
import sys
import threading
import time
from dataclasses import asdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, Sequence, TextIO

from .config import Config, ConfigError, load_config
from .errors import CliError

log = logging.getLogger("bot")


# ------------------------------------------------------------------------------------------- helpers


def _config(args) -> Config:
    return load_config(args.config)


def plural(n: int, word: str, many: str | None = None) -> str:
    """"1 talking point", "2 talking points"."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def python_command() -> str:
    """How to start this Python from the current directory, as a shell word that works as printed (the venv's
    interpreter, whether or not the venv is active)."""
    exe = Path(sys.executable or "python3")
    try:
        rel = exe.relative_to(Path.cwd())
    except ValueError:
        return shlex.quote(str(exe))
    return shlex.quote(str(rel) if len(rel.parts) > 1 else f"./{rel}")


_LOADING_APP = ("starting the sentence encoder and loading the stance model (after a pack change it is trained "
                "first: 10-30 s)")


class _SlowStep:
    """Tells the person waiting what is going on when a step takes a while.

    With ``announce`` the message is printed at once (we know the step is slow, e.g. training); otherwise only
    if the step is still running after ``after`` seconds. Either way "done in N s" follows, and the message is
    also logged at INFO.
    """

    def __init__(self, message: str, err: TextIO, *, announce: bool = False, after: float = 2.0) -> None:
        self.message, self.err, self.announce, self.after = message, err, announce, after
        self._shown = threading.Event()
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._start = 0.0

    def _show(self) -> None:
        with self._lock:
            if self._shown.is_set():
                return
            self._shown.set()
            log.info("%s", self.message)
            self.err.write(f"{self.message}…\n")
            self.err.flush()

    def __enter__(self) -> "_SlowStep":
        self._start = time.monotonic()
        if self.announce:
            self._show()
        else:
            self._timer = threading.Timer(self.after, self._show)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            shown = self._shown.is_set()
            self._shown.set()  # a timer firing late prints nothing
        if shown and exc_type is None:
            self.err.write(f"  done in {time.monotonic() - self._start:.1f} s\n")
            self.err.flush()


def check_encoder(cfg: Config):
    """The encoder ``check`` uses: the same kind as the running bot's (and the demo's), so the stance model
    trained by one is the cached one the other loads, and ``check`` decides exactly as the bot does."""
    from .core.encoders import UsemEncoder

    if cfg.detector.encoder_process:
        # what bot.core.encoder_process runs in its child (usem_single_thread), with the threads of this process
        return UsemEncoder(cache_tokens=True, cache_states=True)
    return UsemEncoder()


def detector_cache_file(cfg: Config, registry, encoder) -> Path:
    """The file the detector for ``registry`` + ``encoder`` is cached in."""
    from .core.detector import Detector

    return Detector.cache_path(registry, encoder, cfg.detector.cache_dir)


def load_detector(cfg: Config, err: TextIO | None = None):
    """Load the packs and build the detector, saying so on ``err`` when the stance model has to be trained."""
    from .app import build_detector, load_registry

    err = err if err is not None else sys.stderr
    registry = load_registry(cfg)
    encoder = check_encoder(cfg)
    cached = detector_cache_file(cfg, registry, encoder)
    training = not cached.exists()
    message = ("training the stance model for this set of packs (once after a pack change, 10-30 s; "
               "cached afterwards)" if training else "loading the detector")
    with _SlowStep(message, err, announce=training):
        return build_detector(cfg, registry, encoder)


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
    from .tools.terminal import terminal_width

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
        from .console import boxed_card

        out.write("\n")
        for line in boxed_card(card, "card", terminal_width(out)):
            out.write(line + "\n")


# ------------------------------------------------------------------------------------------- check


def cmd_check(args, out: TextIO) -> int:
    cfg = _config(args)
    if args.jsonl and args.server:
        raise CliError("--server works with a single text, not with --jsonl")
    if args.jsonl is None and args.text is None:
        raise CliError("give a text to check, or --jsonl FILE")
    if args.jsonl:
        lines = _jsonl_lines(args.jsonl)  # opened before the detector loads: a wrong path fails at once
        return _check_jsonl(load_detector(cfg), args.jsonl, lines, out, batch=args.batch)
    from .core.cards import render_card

    detector = load_detector(cfg)
    if args.server:  # what this server learned from its moderators' verdicts (exemplars, point policies)
        asyncio.run(_restore_learning(args, cfg, detector))
    decision = detector.check(args.text, args.lang, server_id=args.server)
    tp = detector.registry.get(decision.talking_point_id) if decision.talking_point_id else None
    card = render_card(tp, decision.lang) if tp is not None else None
    if args.json:
        out.write(json.dumps(_decision_line(decision, None), ensure_ascii=False) + "\n")
    else:
        _print_decision(decision, card, out)
    return 0


async def _restore_learning(args, cfg: Config, detector) -> None:
    from .dashboard.learning import restore_learning
    from .storage import open_database

    from .storage.pg import is_postgres_url

    path = args.db or cfg.storage.database
    path = path if is_postgres_url(path) else Path(path)
    if isinstance(path, Path) and not path.exists():
        raise CliError(f"{path}: no such database (check --server reads what servers learned from it; pass --db)")
    db = await open_database(path)
    try:
        await restore_learning(db, detector)
    finally:
        await db.close()


_UTF16_32 = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _jsonl_lines(path: str) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes without the line end) for every line of ``path`` ('-': stdin), read as bytes so that
    an undecodable line is reported as such instead of being silently replaced. A UTF-8 byte-order mark is
    skipped; a UTF-16/32 file is refused (its lines cannot be told apart as bytes)."""
    try:
        fh = sys.stdin.buffer if path == "-" else open(path, "rb")
    except OSError as e:
        raise CliError(f"{path}: {e.strerror}") from None

    first = fh.readline()  # checked now, before the detector loads: a wrong file fails at once
    problem = None
    if first.startswith(_UTF16_32):
        problem = ("the file is UTF-16 or UTF-32 encoded; JSON lines must be UTF-8 "
                   f"(convert it, e.g. iconv -f UTF-16 -t UTF-8 {shlex.quote(path)})")
    elif b"\x00" in first:
        problem = "the first line has NUL bytes: a UTF-16 file? JSON lines must be UTF-8"
    if problem:
        if path != "-":
            fh.close()
        raise CliError(f"{path}: {problem}")

    def lines() -> Iterator[tuple[int, bytes]]:
        with contextlib.nullcontext(fh) if path == "-" else fh:
            if first:
                yield 1, first.removeprefix(codecs.BOM_UTF8).rstrip(b"\r\n")
            for n, raw in enumerate(fh, 2):
                yield n, raw.rstrip(b"\r\n")

    return lines()


def _line_problem(raw: bytes) -> tuple[object, dict | None, str | None]:
    """(id, item, problem) for one input line: ``item`` is the decoded object when it is usable."""
    if not raw.strip():
        return None, None, "empty line (expected a JSON object with a string 'text')"
    if b"\x00" in raw:
        return None, None, "contains NUL bytes (a UTF-16 file? JSON lines must be UTF-8)"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, None, (f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1}; "
                            "a Latin-1 or Windows-1252 file? save it as UTF-8)")
    try:
        item = json.loads(text)
    except ValueError as e:
        return None, None, f"not JSON: {e}"
    if not isinstance(item, dict):
        return None, None, "expected a JSON object with a string 'text'"
    id_ = item.get("id")
    if not isinstance(item.get("text"), str):
        return id_, None, "expected a string 'text'"
    lang = item.get("lang")
    if lang is not None and (problem := _lang_problem(lang)):
        return id_, None, f"'lang': {problem}"
    return id_, item, None


def _lang_problem(lang: object) -> str | None:
    from .core.packs import ISO_639_1

    if not isinstance(lang, str):
        return "must be a string"
    if lang.strip().lower() not in ISO_639_1:
        return f"{lang!r} is not an ISO 639-1 language code (such as en, ru, uk, de)"
    return None


def _check_jsonl(detector, path: str, lines: Iterator[tuple[int, bytes]], out: TextIO, *, batch: int = 64) -> int:
    """Exactly one output line per input line, in order. A line that cannot be checked gets ``action: none``,
    a message on stderr naming the line, and the exit code is 1."""
    failures = 0
    pending: list[tuple[object, str, str | None]] = []

    def flush() -> None:
        if not pending:
            return
        decisions = detector.check_many([p[1] for p in pending], [p[2] for p in pending])
        for (id_, _, _), d in zip(pending, decisions):
            out.write(json.dumps(_decision_line(d, id_), ensure_ascii=False) + "\n")
        pending.clear()

    for n, raw in lines:
        id_, item, problem = _line_problem(raw)
        if problem is not None:
            flush()
            failures += 1
            print(f"{path}:{n}: {problem}", file=sys.stderr)
            out.write(json.dumps({"id": id_, "talking_point": None, "stance": None, "score": 0.0,
                                  "action": "none"}, ensure_ascii=False) + "\n")
            continue
        lang = item.get("lang")
        pending.append((id_, item["text"], lang.strip().lower() if lang else None))
        if len(pending) >= batch:
            flush()
    flush()
    if failures:
        print(f"{path}: {plural(failures, 'line')} could not be checked (answered with action none)",
              file=sys.stderr)
    return 1 if failures else 0


# ------------------------------------------------------------------------------------------- demo


async def _demo(args, out: TextIO) -> int:
    import tempfile

    from .app import build_app
    from .console import ConsolePlatform, load_conversation
    from .core.models import ChannelMode
    from .core.ports import IncidentFilter
    from .tools.terminal import terminal_width

    cfg = _config(args)
    width = terminal_width(out)
    with contextlib.ExitStack() as stack:
        if args.db:
            db_path = Path(args.db)
            if db_path.exists() and (not db_path.is_file() or db_path.stat().st_size):
                _check_database_file(db_path)  # an earlier demo's database is fine; anything else is refused
        else:  # removed when the demo ends, whatever happens
            db_path = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="contextbot-demo-"))) / "demo.db"
        out.write("contextbot demo: loading the talking-point packs and the multilingual detector…\n")
        out.flush()
        with _SlowStep(_LOADING_APP, sys.stderr):
            app = await build_app(cfg, database=db_path)
        try:
            for pack in app.registry.packs:
                out.write(f"  pack {pack.id} v{pack.version}: {plural(len(pack.talking_points), 'talking point')}\n")
            console = ConsolePlatform(app.service, out, width=width)
            await console.set_mode("general", ChannelMode.REPLY)
            await console.set_mode("news", ChannelMode.REVIEW)
            out.write("\nA moderator has set #general to 'reply' and left #news on the safe default 'review'.\n\n")
            outcomes = await console.replay(load_conversation())
            out.write("\n" + "═" * width + "\nModerator's incident summary (from SQLite"
                      + (f": {db_path}" if args.db else "") + ")\n\n")
            incidents = await app.service.incidents.list_incidents(IncidentFilter(server_id=console.server_id),
                                                                   limit=100)
            _incident_table(incidents, out)
            cards = sum(1 for o in outcomes if o.card is not None)
            held = sum(1 for o in outcomes if o.suppressed)
            out.write(f"\n{plural(len(outcomes), 'message')} · {plural(cards, 'card')} posted · "
                      f"{plural(len(incidents), 'incident')} logged · {plural(held, 'reply', 'replies')} held back "
                      "by the budget\n")
            python = python_command()
            if args.db:
                out.write(f"Try: {python} -m bot incidents list --db {shlex.quote(str(db_path))}\n")
            else:
                out.write("The demo's database was temporary and is gone. To keep one and review it:\n"
                          f"  {python} -m bot demo --db demo.db && {python} -m bot incidents list --db demo.db\n")
        finally:
            await app.close()
    return 0


# ------------------------------------------------------------------------------------------- incidents


def _incident_table(incidents, out: TextIO) -> None:
    """One line per incident, fitting the terminal: the talking point, the place and the message text give way
    (cut with "…") before the short columns do."""
    from rich.text import Text

    from .core.sanitize import safe_snippet
    from .tools.terminal import plain_table, rich_console

    console = rich_console(out)
    rows = [(str(i.id), i.status.value, i.action.value, i.stance.value, f"{i.score:.2f}", i.talking_point_id,
             f"{i.platform}:{i.channel_id}", safe_snippet(i.content, 300) or "(purged)") for i in incidents]
    names = ("id", "status", "action", "stance", "score", "talking point", "where", "text")
    natural = [max([len(name), *(len(row[n]) for row in rows)]) for n, name in enumerate(names)]
    widths = natural[:5] + [min(natural[5], 30), min(natural[6], 20), natural[7]]
    spare = console.width - 2 * (len(names) - 1) - sum(widths)
    for column, floor in ((7, 12), (6, 8), (5, 10), (7, 6)):  # give way in this order, down to a floor
        if spare >= 0:
            break
        cut = min(-spare, max(0, widths[column] - floor))
        widths[column] -= cut
        spare += cut
    table = plain_table(*((name, {"width": w, "no_wrap": True, "overflow": "ellipsis",
                                  "justify": "right" if name in ("id", "score") else "left"})
                          for name, w in zip(names, widths)))
    for row in rows:
        table.add_row(*(Text(_printable(cell)) for cell in row))
    console.print(table)


def _printable(text: str) -> str:
    """Stored message text as it may reach a terminal: control and format characters (escape sequences, bidi
    overrides) shown as U+FFFD instead of acting on the terminal."""
    return "".join(ch if ch.isprintable() or ch == "\n" else "\ufffd" for ch in text)


def _check_database_file(path: Path) -> None:
    """Refuse, with a clear message, anything but an existing contextbot SQLite database (an empty or foreign
    file would otherwise become a new database, or get our tables added to it)."""
    if not path.exists():
        raise CliError(f"{path}: no such database (run the bot or the demo first, or pass --db)")
    if not path.is_file():
        raise CliError(f"{path}: not a file")
    with open(path, "rb") as fh:
        header = fh.read(16)
    if not header:
        raise CliError(f"{path}: empty file, not a contextbot database")
    if header != b"SQLite format 3\x00":
        raise CliError(f"{path}: not an SQLite database")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as e:
        raise CliError(f"{path}: unreadable SQLite database ({e})") from None
    if "incidents" not in tables:
        raise CliError(f"{path}: an SQLite database, but not contextbot's (it has no incidents table)")


async def _with_store(args, fn):
    from .storage import SqliteIncidentRepository, open_database

    cfg = _config(args)
    from .storage.pg import is_postgres_url

    target = args.db or cfg.storage.database
    path = target if is_postgres_url(target) else Path(target)  # a postgresql:// URL is opened as it is
    if isinstance(path, Path):
        _check_database_file(path)
    try:
        db = await open_database(path)
    except sqlite3.DatabaseError as e:
        raise CliError(f"{path}: cannot open the database ({e})") from None
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


def _incident_dict(i, *, explanation_object: bool = False) -> dict:
    """An incident as plain values; with ``explanation_object`` the stored explanation JSON becomes an
    ``explanation`` object (JSON export) instead of the ``explanation_json`` string (CSV)."""
    d = asdict(i)
    for k, v in d.items():
        if isinstance(v, datetime):
            d[k] = v.isoformat()
        elif hasattr(v, "value"):
            d[k] = v.value
    if explanation_object:
        d["explanation"] = _explanation(d.pop("explanation_json"))
    return d


def _explanation(raw: str | None):
    try:
        return json.loads(raw or "{}")
    except ValueError:  # written by an older version or damaged: shown as it is
        return raw


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
            d = _incident_dict(i, explanation_object=True)
            explanation = d.pop("explanation")
            for k, v in d.items():
                out.write(f"{k:>18}: {'' if v is None else _printable(str(v))}\n")
            out.write(f"{'explanation':>18}:\n")
            text = explanation if isinstance(explanation, str) else json.dumps(explanation, ensure_ascii=False,
                                                                                 indent=2)
            for line in text.splitlines():
                out.write(f"{'':>20}{line}\n")
            return 0
    elif args.action == "resolve":
        async def fn(repo, cfg):
            before = await repo.get_incident(args.id)
            if before is None:
                raise CliError(f"no incident #{args.id}")
            note = args.note if args.note is not None else before.note  # no --note: the earlier note stays
            i = await repo.resolve_incident(args.id, IncidentStatus(args.verdict), args.reviewer, note)
            if i is None:
                raise CliError(f"no incident #{args.id}")
            out.write(f"incident #{i.id}: {i.status.value} by {i.reviewer}\n")
            return 0
    elif args.action == "export":
        async def fn(repo, cfg):
            incidents = await repo.list_incidents(_filter(args), limit=1_000_000)
            rows = [_incident_dict(i, explanation_object=args.format == "json") for i in incidents]
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
            cutoff = datetime.now(timezone.utc) - timedelta(days=days)
            n = await repo.purge_content_before(cutoff)
            out.write(f"purged the message content of {plural(n, 'incident')} older than {plural(days, 'day')}\n")
            from .storage.campaigns import SqliteCampaignRepository  # campaign messages keep text as long (issue 16)
            c = await SqliteCampaignRepository(repo._db).purge_content_before(cutoff)
            out.write(f"purged the message content of {plural(c, 'campaign message')}\n")
            from .storage.narratives import SqliteNarrativeRepository

            k = await SqliteNarrativeRepository(repo._db).purge_content_before(cutoff)
            out.write(f"purged the text of {plural(k, 'narrative message')}\n")
            return 0
    else:  # pragma: no cover - argparse restricts choices
        raise CliError(args.action)
    return await _with_store(args, fn)


# ------------------------------------------------------------------------------------------- packs


def _validate_packs(cfg: Config, paths: list[Path], out: TextIO) -> list:
    """Load the packs at ``paths`` and check them together with the packs the configuration loads, as the bot
    will: a pack or talking-point id clashing with another pack fails here, not at the bot's start."""
    from .app import load_registry
    from .core.packs import PackRegistry, load_packs

    given = load_packs(paths)
    origins = {Path(p.origin).resolve() for p in given}
    configured = [p for p in load_registry(cfg).packs if Path(p.origin).resolve() not in origins]
    PackRegistry([*configured, *given])  # raises PackError naming each clash
    for p in given:
        out.write(f"ok  {p.id} v{p.version}: {plural(len(p.talking_points), 'talking point')} ({p.origin})\n")
    if configured:
        out.write(f"    no id clashes with the configured pack{'s' if len(configured) > 1 else ''} "
                  f"{', '.join(p.id for p in configured)}\n")
    return given


def _export_claimreview(cfg: Config, args, out: TextIO) -> int:
    from .app import load_registry
    from .core.claimreview import export_problems, pack_to_claimreview

    registry = load_registry(cfg)
    packs = list(registry.packs)
    if args.pack:
        packs = [p for p in packs if p.id == args.pack]
        if not packs:
            raise CliError(f"no pack '{args.pack}' (loaded: {', '.join(p.id for p in registry.packs) or 'none'})")
    for pack in packs:
        for problem in export_problems(pack):
            print(f"warning: {problem}", file=sys.stderr)
    items = [item for p in packs for item in pack_to_claimreview(p)]
    json.dump(items, out, ensure_ascii=False, indent=1)
    out.write("\n")
    return 0


def _import_claimreview(args, out: TextIO) -> int:
    from .core.claimreview import read_claimreview_file, write_imported_pack

    items = read_claimreview_file(Path(args.file))  # ImportProblem for unreadable input
    notes: list[str] = []
    try:
        dest = write_imported_pack(items, Path(args.out), args.pack_id, lang=args.lang, overwrite=args.force,
                                   notes=notes)
    except FileExistsError:
        raise CliError(f"{args.out} is not empty: choose a new directory, or pass --force to write into it "
                       "(files with the same names are replaced)") from None
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    out.write(f"wrote a draft pack to {dest}; complete the exemplars and cards, then: "
              f"{python_command()} -m bot packs validate {shlex.quote(str(dest))}\n")
    return 0


def cmd_packs(args, out: TextIO) -> int:
    from .app import load_registry
    from .core.claimreview import ImportProblem
    from .core.packs import load_packs, pack_warnings

    cfg = _config(args)
    if args.action == "validate":
        if args.paths:
            packs = _validate_packs(cfg, [Path(p) for p in args.paths], out)
        else:
            packs = load_registry(cfg).packs
            for p in packs:
                out.write(f"ok  {p.id} v{p.version}: {plural(len(p.talking_points), 'talking point')} ({p.origin})\n")
        for warning in pack_warnings(packs, today=date.today(), max_age_days=cfg.packs.max_fact_age_days):
            out.write(f"warning: {warning}\n")
        from .core.detector import keyword_notes

        for note in keyword_notes([tp for p in packs for tp in p.talking_points]):
            out.write(f"note: {note}\n")
        return 0
    if args.action == "import-claimreview":
        try:
            return _import_claimreview(args, out)
        except ImportProblem as e:
            raise CliError(str(e)) from None
    if args.action == "export-claimreview":
        return _export_claimreview(cfg, args, out)
    if args.action == "check-links":
        from .tools.linkcheck import run_check_links

        packs = load_packs([Path(p) for p in args.paths]) if args.paths else load_registry(cfg).packs
        return asyncio.run(run_check_links(packs, out=out))
    if args.action == "list":
        _pack_list(load_registry(cfg).packs, out)
        return 0
    raise CliError(args.action)


def _pack_list(packs, out: TextIO) -> None:
    from rich.text import Text

    from .tools.terminal import plain_table, rich_console

    console = rich_console(out)
    for p in packs:
        console.print(Text(f"{p.id} v{p.version} — {p.name} ({plural(len(p.talking_points), 'talking point')})"))
        table = plain_table(("talking point", {"no_wrap": True}), ("reviewed", {"no_wrap": True}),
                            ("title", {"ratio": 1}))
        for tp in p.talking_points:
            table.add_row(Text(tp.id), Text(tp.reviewed or "-"), Text(tp.title))
        console.print(table)


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
    with _SlowStep(_LOADING_APP, sys.stderr):
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


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more (got {value})")
    return value


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _language(text: str) -> str:
    if problem := _lang_problem(text):
        raise argparse.ArgumentTypeError(problem)
    return text.strip().lower()


def _common_options(*, top: bool) -> argparse.ArgumentParser:
    """--config and -v, accepted before and after the subcommand (after it, they win)."""
    p = argparse.ArgumentParser(add_help=False)
    default = None if top else argparse.SUPPRESS
    p.add_argument("--config", default=default,
                   help="TOML config file (default: $CONTEXTBOT_CONFIG or ./contextbot.toml)")
    p.add_argument("-v", "--verbose", action="store_true", default=False if top else argparse.SUPPRESS,
                   help="log what happens (debug level)")
    return p


def build_parser() -> argparse.ArgumentParser:
    common = _common_options(top=False)
    p = argparse.ArgumentParser(prog="python -m bot", description="contextbot: context cards for known talking points",
                                parents=[_common_options(top=True)])
    sub = p.add_subparsers(dest="command", required=True)

    def command(parent, name: str, **kwargs) -> argparse.ArgumentParser:
        return parent.add_parser(name, parents=[common], **kwargs)

    c = command(sub, "check", help="decide for a text, or for every line of a JSONL file")
    c.add_argument("text", nargs="?")
    c.add_argument("--jsonl", metavar="FILE", help="JSON lines with 'text' (optional 'id', 'lang'); '-' for stdin")
    c.add_argument("--lang", type=_language, help="ISO 639-1 language of the text (default: detected)")
    c.add_argument("--json", action="store_true", help="print the JSON decision line instead of the card")
    c.add_argument("--server", help="decide as for this server id, with what it learned from verdicts (a single text)")
    c.add_argument("--db", help="SQLite file with the learned verdicts, for --server (default: from the config)")
    c.add_argument("--batch", type=_positive_int, default=64, help=argparse.SUPPRESS)

    d = command(sub, "demo", help="replay a sample conversation through the whole pipeline")
    d.add_argument("--db", help="SQLite file to keep the demo's incidents in (default: a temporary one)")

    i = command(sub, "incidents", help="review the incident log")
    isub = i.add_subparsers(dest="action", required=True)
    for name in ("list", "export", "show", "resolve", "purge"):
        q = command(isub, name)
        q.add_argument("--db", help="SQLite file (default: from the config)")
        if name in ("list", "export"):
            q.add_argument("--status", choices=["open", "confirmed", "false_positive", "dismissed"])
            q.add_argument("--talking-point")
            q.add_argument("--platform")
            q.add_argument("--server")
            q.add_argument("--channel")
            q.add_argument("--days", type=_positive_int, help="only the last N days")
        if name == "list":
            q.add_argument("--limit", type=_positive_int, default=50)
            q.add_argument("--offset", type=_non_negative_int, default=0)
        if name == "export":
            q.add_argument("--format", choices=["csv", "json"], default="csv")
        if name in ("show", "resolve"):
            q.add_argument("id", type=int)
        if name == "resolve":
            q.add_argument("verdict", choices=["confirmed", "false_positive", "dismissed"])
            q.add_argument("--note", help="moderator's note (default: keep the incident's note)")
            q.add_argument("--reviewer", default="cli")
        if name == "purge":
            q.add_argument("--days", type=_non_negative_int,
                           help="purge content older than N days (default: storage.retention_days)")

    from .narratives_cli import add_parser as _narratives_parser

    _narratives_parser(sub, command)

    k = command(sub, "packs", help="talking-point packs")
    ksub = k.add_subparsers(dest="action", required=True)
    command(ksub, "list")
    v = command(ksub, "validate", help="check packs as the bot will load them, with the configured packs")
    v.add_argument("paths", nargs="*", help="pack directories or files (default: all configured packs)")
    cl = command(ksub, "check-links", help="request every source URL")
    cl.add_argument("paths", nargs="*", help="pack directories or files (default: all configured packs)")
    e = command(ksub, "export-claimreview", help="schema.org ClaimReview JSON-LD for the packs")
    e.add_argument("--pack", help="only this pack id")
    im = command(ksub, "import-claimreview", help="ClaimReview JSON(-LD) -> a draft pack directory")
    im.add_argument("file", help="JSON file: ClaimReview items, a list of them, or JSON-LD documents")
    im.add_argument("--out", required=True, help="directory to write the draft pack into (new or empty)")
    im.add_argument("--pack-id", required=True, help="id of the new pack (lowercase letters, digits, '-')")
    im.add_argument("--lang", type=_language, default=None,
                    help="language of reviews that do not give inLanguage (default: en)")
    im.add_argument("--force", action="store_true", help="write into a directory that is not empty")

    r = command(sub, "run", help="run the bot on one or more platforms")
    r.add_argument("platforms", nargs="+", choices=["discord", "matrix"])
    r.add_argument("--dashboard", action="store_true", help="also serve the moderators' dashboard")

    dbc = command(sub, "db", help="database maintenance")
    dsub = dbc.add_subparsers(dest="action", required=True)
    cp = command(dsub, "copy", help="copy every table to an empty database (SQLite file <-> postgresql:// URL)")
    cp.add_argument("--from", dest="source", required=True, help="SQLite file or postgresql:// URL to read")
    cp.add_argument("--to", dest="target", required=True, help="SQLite file or postgresql:// URL (must be empty)")

    db = command(sub, "dashboard", help="the moderators' web dashboard")
    db.add_argument("action", nargs="?", default="serve", choices=["serve", "hash-password"])
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    from .core.packs import PackError

    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    # a running bot says what it does (who it runs as, rooms, refused invites); one-shot commands stay quiet
    quiet = logging.INFO if args.command == "run" else logging.WARNING
    logging.basicConfig(level=logging.DEBUG if args.verbose else quiet,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        logging.getLogger("nio").setLevel(logging.WARNING)  # matrix-nio logs every event it handles at INFO
    try:
        if args.command == "check":
            return cmd_check(args, out)
        if args.command == "demo":
            return asyncio.run(_demo(args, out))
        if args.command == "incidents":
            return asyncio.run(_incidents(args, out))
        if args.command == "packs":
            return cmd_packs(args, out)
        if args.command == "narratives":
            from .narratives_cli import run as _narratives
            from .storage import open_database

            return asyncio.run(_narratives(args, out, _config(args), open_database, _check_database_file))
        if args.command == "run":
            return asyncio.run(_run(args))
        if args.command == "db":
            from .db_cli import db_main

            return db_main(args, out)
        if args.command == "dashboard":
            from .dashboard import dashboard_main

            return dashboard_main(args, _config(args), out)
    except (ConfigError, PackError, CliError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except sqlite3.DatabaseError as e:  # e.g. storage.database is not an SQLite file
        print(f"error: database: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a file we were asked to read or write: say which, no traceback
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    return 0
