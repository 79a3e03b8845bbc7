"""Cards as members read them: source dates and section headings."""

from __future__ import annotations

import pytest

from bot.core.cards import (
    as_of_text,
    card_as_text,
    fact_line,
    footnotes,
    render_card,
    section_label,
    shown_date,
    source_text,
)
from bot.core.models import KeyFact, RenderedCard, Source
from bot.matrix_adapter.render import card_html, card_text


@pytest.mark.parametrize("date,shown", [
    ("12 Dec 2017", "12 Dec 2017"),
    ("2015", "2015"),
    ("not shown", ""),
    ("Not Shown", ""),
    ("  not   shown  ", ""),
    ("not shown (2022)", "2022"),
    ("not shown (Nov 2022)", "Nov 2022"),
    ("not shown ( early 2023 )", "early 2023"),
    ("unknown", ""),
    ("", ""),
    ("not shown (a) (b)", "not shown (a) (b)"),  # not the pattern: shown as written rather than guessed at
])
def test_shown_date(date, shown):
    assert shown_date(Source("P", "T", "https://example.org/", date)) == shown


def test_source_text_leaves_out_unknown_dates():
    assert source_text(Source("P", "T", "https://e.org/", "not shown")) == "P: T https://e.org/"
    assert source_text(Source("P", "T", "https://e.org/", "not shown (2014)")) == "P: T (2014) https://e.org/"


def _card(lang: str, sources: tuple[Source, ...]) -> RenderedCard:
    return RenderedCard(talking_point_id="tp", lang=lang, title="T", summary="S", key_facts=("a", "b"),
                        why_it_matters="W", sources=sources, footer="F", pack_version="1")


@pytest.mark.parametrize("lang,heading", [("en", "Sources:"), ("ru", "Источники:"), ("uk", "Джерела:"),
                                          ("xx", "Sources:")])
def test_plain_card_headings_follow_the_card_language(lang, heading):
    card = _card(lang, (Source("P", "T", "https://e.org/", "2020"),))
    for text in (card_as_text(card), card_text(card)):  # console and Matrix
        assert [line for line in text.splitlines() if line.endswith(":")] == [heading]


def test_no_renderer_shows_the_pack_authors_note():
    card = _card("en", (Source("EUvsDisinfo", "Report", "https://e.org/1", "not shown"),
                        Source("UNIAN", "Nuland", "https://e.org/2", "not shown (2014)")))
    for rendered in (card_as_text(card), card_text(card), card_html(card)):
        assert "not shown" not in rendered
        assert "(2014)" in rendered
    assert "Report</a></li>" in card_html(card)  # no empty "()" after an undated source


def test_the_shipped_pack_renders_without_notes(registry):
    for tp in registry.talking_points():
        for lang in ("en", "ru", "uk", "de"):
            card = render_card(tp, lang)
            assert card.lang == lang, (tp.id, lang)  # German readers get German cards, not the English fallback
            text = card_as_text(card)
            assert "not shown" not in text and "()" not in text, tp.id
            assert f"({tp.id})" in card.footer
            if lang != "en":
                assert card.footer != render_card(tp, "en").footer  # the footer speaks the card's language too


def test_section_labels_exist_for_every_language():
    for lang in ("en", "ru", "uk", "de"):
        assert all(section_label(lang, part) for part in ("key_facts", "why", "sources", "more", "as_of", "no_url"))
    assert section_label("pt", "why") == "Why it matters"


def test_console_and_matrix_plain_cards_are_one_layout():
    card = _card("en", (Source("P", "T", "https://e.org/", "2020"),))
    assert card_as_text(card).splitlines() == [
        "ℹ️ T", "", "S", "", "• a", "• b", "", "W", "", "Sources:", "  [1] P: T (2020) https://e.org/", "", "F"]
    assert card_text(card) == card_as_text(card).replace("  [1] P:", "[1] P:")  # Matrix: no indent, same lines
    bare = RenderedCard(talking_point_id="tp", lang="en", title="T", summary="S", key_facts=("a",),
                        why_it_matters="", sources=(), footer="F", pack_version="1")
    for text in (card_as_text(bare), card_text(bare)):  # empty sections are left out, not shown as bare headings
        assert text.splitlines() == ["ℹ️ T", "", "S", "", "• a", "", "F"]


# ------------------------------------------------------------------------------- footnotes and "as of"


@pytest.mark.parametrize("fact,lang,line", [
    (KeyFact("25 were killed.", (1,)), "en", "25 were killed. [1]"),
    (KeyFact("25 were killed.", (1, 3), "2021-12-31"), "en", "25 were killed. [1][3] (as of 31 Dec 2021)"),
    (KeyFact("69% agreed.", (6,), "2024-02"), "en", "69% agreed. [6] (as of Feb 2024)"),
    (KeyFact("GDP grew.", (4,), "2025"), "en", "GDP grew. [4] (as of 2025)"),
    (KeyFact("69% согласились.", (6,), "2024-02"), "ru", "69% согласились. [6] (данные на 02.2024)"),
    (KeyFact("69% погодилися.", (6,), "2024-02-05"), "uk", "69% погодилися. [6] (дані на 05.02.2024)"),
    (KeyFact("69% stimmten zu.", (6,), "2024-02-05"), "de", "69% stimmten zu. [6] (Stand: 05.02.2024)"),
    (KeyFact("69% agreed.", (6,), "2024-02"), "pt", "69% agreed. [6] (as of Feb 2024)"),  # English otherwise
])
def test_fact_line_ends_with_its_footnotes_and_as_of_date(fact, lang, line):
    assert fact_line(fact, lang) == line


def test_footnotes_and_as_of_text():
    assert footnotes((2, 5)) == "[2][5]"
    assert as_of_text("2022-12", "en") == "as of Dec 2022"


def test_a_source_named_without_a_url_says_so_in_every_plain_renderer():
    card = _card("de", (Source("Rosstat", "BIP", "", "2025"), Source("P", "T", "https://e.org/", "2020")))
    for text in (card_as_text(card), card_text(card)):
        assert "[1] Rosstat: BIP (2025) (URL nicht bestätigt)" in text
        assert "[2] P: T (2020) https://e.org/" in text
    html = card_html(card)
    assert "<li>[1] Rosstat: BIP (2025) (URL nicht bestätigt)</li>" in html
    assert '<li>[2] <a href="https://e.org/">P: T</a> (2020)</li>' in html


def test_rendered_shipped_cards_cite_numbered_sources_in_every_plain_renderer(registry):
    for tp in registry.talking_points():
        for lang in ("en", "ru", "uk", "de"):
            card = render_card(tp, lang)
            _, text = tp.card_for(lang)
            for fact, line in zip(text.key_facts, card.key_facts):
                assert line.startswith(fact.text) and footnotes(fact.sources) in line, (tp.id, lang)
            for rendered in (card_as_text(card), card_text(card), card_html(card)):
                for fact in text.key_facts:
                    assert fact_line(fact, lang).replace("'", "&#x27;").replace('"', "&quot;") in rendered or \
                        fact_line(fact, lang) in rendered, (tp.id, lang)
                for n in range(1, len(tp.sources) + 1):
                    assert f"[{n}] " in rendered, (tp.id, lang, n)


# Each shipped card names the strongest fact a doubter raises next, in a key fact that starts with this label
DOUBTER_LABEL = {"en": "Often raised next:", "ru": "Что часто приводят дальше:", "uk": "Що часто наводять далі:",
                 "de": "Oft als Nächstes angeführt:"}


def test_every_shipped_card_names_what_a_doubter_raises_next(registry):
    for tp in registry.talking_points():
        for lang, card in tp.cards.items():
            assert [f for f in card.key_facts if f.text.startswith(DOUBTER_LABEL[lang])], (tp.id, lang)
