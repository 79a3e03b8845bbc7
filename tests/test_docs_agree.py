"""The README and docs state figures and rules the code defines: keep them in agreement (issue 14.21, 14.22)."""

from __future__ import annotations

import re
from pathlib import Path

from bot.console import ConsolePlatform
from bot.discord_adapter.convert import MAX_TEXT as DISCORD_MAX_TEXT
from bot.matrix_adapter.convert import MAX_TEXT as MATRIX_MAX_TEXT
from bot.storage import MAX_CONTENT_CHARS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOCS = {p.name: p.read_text() for p in (ROOT / "docs").glob("*.md")}


def figure(text: str) -> int:
    return int(text.replace(",", ""))


def test_the_snapshot_length_the_readme_states_is_what_is_stored():
    [stated] = re.findall(r"at most its first ([\d,]+) characters", README)
    assert figure(stated) == DISCORD_MAX_TEXT == MATRIX_MAX_TEXT
    [backstop] = re.findall(r"storage itself cuts at ([\d,]+)", README)
    assert figure(backstop) == MAX_CONTENT_CHARS


def test_the_readme_does_not_claim_everything_is_logged():
    assert "Everything it sees is logged" not in README
    assert "questions (even those answered with a card)" in README  # answered questions are not incidents


def test_the_message_content_rule_is_the_current_one():
    discord_doc = DOCS["discord.md"]
    assert "100+ servers need Discord's approval" not in discord_doc
    assert "10,000 unique users" in discord_doc


def test_a_newcomer_finds_the_demo_incidents_for_the_dashboard():
    server = f"{ConsolePlatform.platform}:{ConsolePlatform.server_id}"
    assert "demo --db" in DOCS["dashboard.md"] and server in DOCS["dashboard.md"]
    assert "demo --db" in README and server in README
