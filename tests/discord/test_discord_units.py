"""Unit tests of the pure parts of the Discord adapter (no network)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timezone

import discord
import pytest

from bot.config import Config, DiscordConfig
from bot.core.models import Action, Incident, IncidentStatus, RenderedCard, Source, Stance
from bot.discord_adapter import DiscordStartupError, create_bot, default_intents, run_discord
from bot.discord_adapter.components import (
    FeedbackButton,
    VerdictButton,
    alert_view,
    card_view,
    feedback_custom_id,
    verdict_custom_id,
)
from bot.discord_adapter.embeds import alert_embed, card_embed, incident_embed, safe_url, source_line
from bot.discord_adapter.export import incidents_to_csv, incidents_to_json


def make_card(**overrides) -> RenderedCard:
    base = dict(
        talking_point_id="tp", lang="en", title="Is X true?", summary="Summary.", key_facts=("One.", "Two."),
        why_it_matters="Because.", sources=(Source("Pub", "Title", "https://example.org/a_(b)", "2024"),),
        footer="pack v1 · Why am I seeing this?", pack_version="1",
    )
    base.update(overrides)
    return RenderedCard(**base)


def make_incident(**overrides) -> Incident:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    base = dict(
        id=7, platform="discord", server_id="1", channel_id="2", message_id="3", message_link="https://discord.com/channels/1/2/3",
        author_id="4", content="hello @everyone", talking_point_id="tp", stance=Stance.ASSERT, score=0.9,
        match_score=0.8, action=Action.REVIEW, status=IncidentStatus.OPEN, reviewer=None, note=None,
        created_at=now, updated_at=now,
    )
    base.update(overrides)
    return Incident(**base)


def test_card_embed_layout():
    embed = card_embed(make_card()).to_dict()
    assert embed["title"] == "ℹ️ Is X true?"
    assert embed["description"] == "Summary."
    names = [f["name"] for f in embed["fields"]]
    assert names == ["Key facts", "Why it matters", "Sources"]
    assert embed["fields"][0]["value"] == "• One.\n• Two."
    # parentheses in the URL are encoded so they cannot end the markdown link early
    assert embed["fields"][2]["value"] == "[1] [Pub: Title](https://example.org/a_%28b%29) (2024)"
    assert embed["footer"]["text"] == "pack v1 · Why am I seeing this?"


def test_card_embed_headings_follow_the_card_language_and_hide_unknown_dates():
    card = make_card(lang="uk", sources=(Source("UNIAN", "Nuland", "https://example.org/n", "not shown (2014)"),))
    embed = card_embed(card).to_dict()
    assert [f["name"] for f in embed["fields"]] == ["Ключові факти", "Чому це важливо", "Джерела"]
    assert embed["fields"][2]["value"] == "[1] [UNIAN: Nuland](https://example.org/n) (2014)"


def test_card_text_cannot_ping_or_break_links():
    card = make_card(
        title="@everyone look", summary="<@123> and <@&456> and @here", key_facts=("@room fact",),
        sources=(Source("A] [b", "c](http://evil)", "javascript:alert(1)", "not shown"),),
    )
    embed = card_embed(card).to_dict()
    text = json.dumps(embed, ensure_ascii=False)
    for raw in ("@everyone", "@here", "<@123>", "<@&456>"):
        assert raw not in text
    sources = embed["fields"][-1]["value"]
    assert not re.search(r"(?<!\\)\]\(", sources)  # no link: the URL is not http(s) and "](" is escaped
    assert "\\[b" in sources and "\\]" in sources  # brackets in the label are escaped
    assert "not shown" not in sources


def test_huge_card_fits_discord_limits_without_cutting_links():
    sources = tuple(Source(f"Publisher {i}", "T" * 150, f"https://example.org/{i}/" + "p" * 100, "2024") for i in range(40))
    card = make_card(title="T" * 400, summary="S" * 5000, key_facts=("F" * 600,) * 4, why_it_matters="W" * 2000,
                     sources=sources, footer="F" * 3000)
    embed = card_embed(card)
    assert len(embed) <= 6000 and len(embed.fields) <= 25
    data = embed.to_dict()
    assert len(data["title"]) <= 256 and len(data["description"]) <= 4096 and len(data["footer"]["text"]) <= 2048
    for f in data["fields"]:
        assert len(f["value"]) <= 1024
        if f["name"].startswith("Sources"):
            assert all(line.endswith("(2024)") for line in f["value"].split("\n"))  # whole lines only


@pytest.mark.parametrize("url,expected", [
    ("https://a.org/x y", "https://a.org/x%20y"),
    ("http://a.org/?q=1&r=(2)", "http://a.org/?q=1&r=%282%29"),
    ("ftp://a.org/", None),
    ("javascript:alert(1)", None),
    ("https:///nohost", None),
])
def test_safe_url(url, expected):
    assert safe_url(url) == expected


@pytest.mark.parametrize("source,number,lang,line", [
    (Source("Pub", "Title", "", ""), 1, "en", "[1] Pub: Title (URL not confirmed)"),  # named without a URL
    (Source("Rosstat", "BIP", "", "2025"), 4, "de", "[4] Rosstat: BIP (2025) (URL nicht bestätigt)"),
    (Source("Pub", "Title", "javascript:alert(1)", "2020"), 2, "en", "[2] Pub: Title (2020)"),  # unsafe: no link
])
def test_source_line_is_numbered_and_says_when_a_url_is_not_confirmed(source, number, lang, line):
    assert source_line(source, number, lang) == line


def test_shipped_cards_show_footnotes_and_every_numbered_source_within_discord_limits(registry):
    from bot.core.cards import fact_line, render_card, section_label

    for tp in registry.talking_points():
        for lang in ("en", "ru", "uk", "de"):
            embed = card_embed(render_card(tp, lang))
            assert len(embed) <= 6000, (tp.id, lang)
            data = embed.to_dict()
            part = lambda section: "\n".join(  # noqa: E731
                f["value"] for f in data["fields"] if f["name"].startswith(section_label(lang, section)))
            facts = part("key_facts").split("\n")
            assert facts == [f"• {fact_line(fact, lang)}" for fact in tp.cards[lang].key_facts], (tp.id, lang)
            assert data["description"] == tp.cards[lang].summary  # never clipped, footnotes included
            sources = part("sources")
            assert [line.split(" ", 1)[0] for line in sources.split("\n")] == [
                f"[{n}]" for n in range(1, len(tp.sources) + 1)], (tp.id, lang)


def test_incident_embed_neutralises_and_marks_purged():
    embed = incident_embed(make_incident(), None).to_dict()
    assert "@everyone" not in json.dumps(embed, ensure_ascii=False)
    purged = incident_embed(make_incident(content=None), None).to_dict()
    assert "content removed" in purged["description"]


def test_custom_ids_round_trip_and_fit():
    assert FeedbackButton.__discord_ui_compiled_template__.fullmatch(feedback_custom_id(True))["vote"] == "y"
    assert FeedbackButton.__discord_ui_compiled_template__.fullmatch(feedback_custom_id(False))["vote"] == "n"
    for status in (IncidentStatus.CONFIRMED, IncidentStatus.FALSE_POSITIVE, IncidentStatus.DISMISSED):
        cid = verdict_custom_id(2**53, status)
        m = VerdictButton.__discord_ui_compiled_template__.fullmatch(cid)
        assert m and int(m["id"]) == 2**53 and len(cid) <= 100
    assert not VerdictButton.__discord_ui_compiled_template__.fullmatch("cb:v:1:open")


def test_views_are_persistent():
    for view in (card_view(), alert_view(5, "https://discord.com/channels/1/2/3")):
        assert view.timeout is None and view.is_persistent()
    labels = [getattr(c, "item", c).label for c in alert_view(5, "https://discord.com/channels/1/2/3").children]
    assert labels == ["Confirm", "False positive", "Dismiss", "Jump to message"]
    for lang, labels in ((None, ["Helpful", "Not relevant"]), ("en", ["Helpful", "Not relevant"]),
                         ("ru", ["Полезно", "Не по теме"]), ("uk", ["Корисно", "Не по темі"]),
                         ("de", ["Hilfreich", "Nicht relevant"]), ("fr", ["Helpful", "Not relevant"])):
        assert [getattr(c, "item", c).label for c in card_view(lang).children] == labels  # the card's language


def test_export_formats_and_csv_injection():
    incidents = [make_incident(content="=1+1"), make_incident(id=8, content="plain", note="@SUM(A1)")]
    table = list(csv.DictReader(io.StringIO(incidents_to_csv(incidents).decode())))
    assert table[0]["content"] == "'=1+1" and table[1]["note"] == "'@SUM(A1)" and table[1]["content"] == "plain"
    assert table[0]["stance"] == "assert" and table[0]["created_at"].startswith("2026-01-02T03:04:05")
    records = json.loads(incidents_to_json(incidents))
    assert records[0]["content"] == "=1+1" and records[1]["id"] == 8  # JSON is not a spreadsheet: kept as is


def test_client_intents_and_defaults(service_stub):
    intents = default_intents()
    assert intents.guilds and intents.guild_messages and intents.message_content
    assert not intents.members and not intents.presences and not intents.dm_messages
    bot = create_bot(service_stub, DiscordConfig())
    assert bot.intents.value == intents.value
    assert bot.allowed_mentions.to_dict() == discord.AllowedMentions.none().to_dict()
    assert bot.service is service_stub


async def test_run_discord_requires_a_token(service_stub):
    class App:
        service = service_stub
        registry = None

    with pytest.raises(DiscordStartupError, match="DISCORD_TOKEN"):
        await run_discord(App(), Config())


@pytest.fixture
def service_stub():
    class Stub:
        catalog = object()

    return Stub()


def test_pyproject_requires_the_discord_py_the_edit_handler_needs():
    """on_raw_message_edit reads ``payload.message``, which discord.py 2.5 added: 2.4 must not be installable."""
    import tomllib
    from pathlib import Path

    from packaging.requirements import Requirement

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    [req] = [Requirement(r) for r in pyproject["project"]["dependencies"] if Requirement(r).name == "discord.py"]
    assert not req.specifier.contains("2.4.1") and req.specifier.contains("2.5.0"), req
    assert "message" in discord.RawMessageUpdateEvent.__slots__  # and the installed one has it


@pytest.mark.parametrize("last_content", ["@everyone look <@&5> here", None])
def test_alert_embed_quotes_the_latest_hit_without_pings_or_purged_text(last_content):
    first = make_incident(content=None)
    last = make_incident(id=9, author_id="44", content=last_content)
    embed = alert_embed(first, None, reason="scripted reason", later=3, accounts=2, last=last).to_dict()
    assert embed["title"] == "Review: incident #7: tp" and "content removed" in embed["description"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Why"] == "scripted reason"
    later = fields["Later hits"]
    assert later.startswith("3 more incident(s) since this alert; 2 account(s) in all.") and "#9 by <@44>" in later
    assert "@everyone" not in json.dumps(embed, ensure_ascii=False) and "<@&5>" not in later
    assert ("content removed" in later) is (last_content is None)
    resolved = alert_embed(make_incident(status=IncidentStatus.CONFIRMED), None, reason="r").to_dict()
    assert resolved["title"] == "Incident #7: tp" and "Why" not in {f["name"] for f in resolved["fields"]}
