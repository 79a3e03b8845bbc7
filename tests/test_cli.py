"""Command-line contract: `check --jsonl` output shape, incidents commands, the demo."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import subprocess

import pytest

from bot.cli import main

KEYS = {"id", "talking_point", "stance", "score", "action"}


def run(argv, capsys=None) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue()


def test_check_jsonl_contract(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    lines = [
        {"id": 7, "text": "The US runs secret biolabs in Ukraine making bioweapons aimed at Russia."},
        {"id": "b", "text": "No, NATO didn't force anyone. Countries asked to join, and Russia chose to invade.", "lang": "en"},
        {"text": "lunch at noon?"},
        {"id": "u", "text": "Буча — це постановка, тіла підкинули після відходу військ."},
    ]
    src.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    code, out = run(["check", "--jsonl", str(src)])
    assert code == 0
    rows = [json.loads(x) for x in out.splitlines()]
    assert len(rows) == len(lines)
    for row, given in zip(rows, lines):
        assert set(row) == KEYS
        assert row["id"] == given.get("id")
        assert row["action"] in ("reply", "review", "none")
        assert row["stance"] in (None, "assert", "refute", "report", "ask", "other")
        assert 0.0 <= row["score"] <= 1.0
    assert rows[0]["talking_point"] == "us-biolabs" and rows[0]["action"] in ("reply", "review")
    assert rows[1]["action"] != "reply"
    assert rows[2] == {"id": None, "talking_point": None, "stance": None, "score": 0.0, "action": "none"}


def test_check_jsonl_bad_lines_keep_the_contract(tmp_path, capsys):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"id": 1, "text": "hello"}\nnot json\n{"id": 2}\n{"id": 3, "text": "bye"}\n', encoding="utf-8")
    code, out = run(["check", "--jsonl", str(src)])
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 1
    assert [r["id"] for r in rows] == [1, None, 2, 3]
    assert all(set(r) == KEYS for r in rows)
    err = capsys.readouterr().err
    assert "bad.jsonl:2" in err and "bad.jsonl:3" in err


def test_check_text_prints_decision_and_card():
    code, out = run(["check", "The US runs secret biolabs in Ukraine making bioweapons aimed at Russia."])
    assert code == 0
    assert "talking point: us-biolabs" in out and "Sources:" in out and "https://" in out


def test_missing_file_is_a_clear_error(tmp_path, capsys):
    code, _ = run(["check", "--jsonl", str(tmp_path / "nope.jsonl")])
    assert code == 2
    assert "nope.jsonl" in capsys.readouterr().err


def test_demo_then_incident_commands(tmp_path):
    db = tmp_path / "demo.db"
    code, out = run(["demo", "--db", str(db)])
    assert code == 0
    assert "contextbot replied" in out  # at least one card shown as a member sees it
    assert "Haben die Krim und die besetzten Gebiete frei" in out  # the German question gets the German card
    assert "Moderator's incident summary" in out
    assert "@everyone" not in out.replace("@\u200beveryone", "")  # the injected ping is neutralised
    with sqlite3.connect(db) as con:
        n = con.execute("SELECT count(*) FROM incidents").fetchone()[0]
        first = con.execute("SELECT min(id) FROM incidents").fetchone()[0]
    assert n >= 3

    # the closing hint works as printed, in a shell without the venv on PATH
    hint = next(line for line in out.splitlines() if line.startswith("Try: "))
    shown = subprocess.run(hint.removeprefix("Try: "), shell=True, capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin"})
    assert shown.returncode == 0, shown.stderr
    assert f"({n} of {n})" in shown.stdout

    code, out = run(["incidents", "list", "--db", str(db)])
    assert code == 0 and f"({n} of {n})" in out and re.search(rf"(?m)^\s*{first}\s+open\b", out)
    code, out = run(["incidents", "resolve", str(first), "false_positive", "--note", "satire", "--db", str(db)])
    assert code == 0 and "false_positive" in out
    code, out = run(["incidents", "show", str(first), "--db", str(db)])
    assert "false_positive" in out and "satire" in out
    code, out = run(["incidents", "export", "--format", "json", "--db", str(db)])
    exported = json.loads(out)
    assert len(exported) == n and {"id", "talking_point_id", "status", "content"} <= set(exported[0])
    code, out = run(["incidents", "purge", "--days", "0", "--db", str(db)])
    assert code == 0
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM incidents WHERE content IS NOT NULL").fetchone()[0] == 0


def test_incidents_on_a_missing_database_is_a_clear_error(tmp_path, capsys):
    code, _ = run(["incidents", "list", "--db", str(tmp_path / "none.db")])
    assert code == 2
    assert "no such database" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["packs", "list"], ["packs", "validate"]])
def test_packs_commands(argv):
    code, out = run(argv)
    assert code == 0 and "ukraine-war" in out


def test_claimreview_export_is_json_ld():
    code, out = run(["packs", "export-claimreview"])
    items = json.loads(out)
    assert code == 0 and len(items) >= 15
    assert all(i["@type"] == "ClaimReview" and i["claimReviewed"] for i in items)


def test_packs_list_shows_each_talking_points_review_date():
    code, out = run(["packs", "list"])
    assert code == 0
    assert any("talking point" in line and "reviewed" in line for line in out.splitlines())  # the header
    assert any(line.split()[:2] == ["donbas-genocide", "2026-12-04"] for line in out.splitlines())


@pytest.mark.parametrize("max_age,warned", [(100_000, False), (1, True)])
def test_packs_validate_warns_about_old_as_of_dates_by_configured_age(tmp_path, max_age, warned):
    config = tmp_path / "contextbot.toml"
    config.write_text(f"[packs]\nmax_fact_age_days = {max_age}\n", encoding="utf-8")
    code, out = run(["--config", str(config), "packs", "validate"])
    assert code == 0 and "ok  ukraine-war" in out  # warnings never fail validation
    stale = [line for line in out.splitlines() if line.startswith("warning: ") and ".as_of: " in line]
    assert bool(stale) is warned
    assert all(f"(max {max_age})" in line for line in stale)


def test_packs_validate_tells_how_keywords_are_compared():
    code, out = run(["packs", "validate"])
    notes = [line for line in out.splitlines() if line.startswith("note: ")]
    assert code == 0
    assert any("ukraine-artificial-state: keyword 'штучн'" in n and "begin with it" in n for n in notes)
    assert any("ceasefire-rearm: keyword 'waffenstillstand'" in n and "'waffen…'" in n for n in notes)
    assert not any("keyword 'nato'" in n for n in notes)
