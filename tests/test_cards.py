"""Cards as members read them: source dates and section headings."""

from __future__ import annotations

import pytest

from bot.core.cards import card_as_text, render_card, section_label, shown_date, source_text
from bot.core.models import RenderedCard, Source
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
        assert all(section_label(lang, part) for part in ("key_facts", "why", "sources", "more"))
    assert section_label("pt", "why") == "Why it matters"


def test_console_and_matrix_plain_cards_are_one_layout():
    card = _card("en", (Source("P", "T", "https://e.org/", "2020"),))
    assert card_as_text(card).splitlines() == [
        "ℹ️ T", "", "S", "", "• a", "• b", "", "W", "", "Sources:", "  - P: T (2020) https://e.org/", "", "F"]
    assert card_text(card) == card_as_text(card).replace("  - P:", "- P:")  # Matrix: its own bullet, same lines
    bare = RenderedCard(talking_point_id="tp", lang="en", title="T", summary="S", key_facts=("a",),
                        why_it_matters="", sources=(), footer="F", pack_version="1")
    for text in (card_as_text(bare), card_text(bare)):  # empty sections are left out, not shown as bare headings
        assert text.splitlines() == ["ℹ️ T", "", "S", "", "• a", "", "F"]
