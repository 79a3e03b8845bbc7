"""Turn a talking point into a card in the reader's language."""

from __future__ import annotations

import re

from .models import RenderedCard, Source, TalkingPoint
from .phrases import phrase

# Section headings for renderers that name the card's parts, in the card's language (English otherwise)
SECTION_LABELS = {
    "en": {"key_facts": "Key facts", "why": "Why it matters", "sources": "Sources", "more": "continued"},
    "ru": {"key_facts": "Ключевые факты", "why": "Почему это важно", "sources": "Источники", "more": "продолжение"},
    "uk": {"key_facts": "Ключові факти", "why": "Чому це важливо", "sources": "Джерела", "more": "продовження"},
    "de": {"key_facts": "Fakten", "why": "Warum das wichtig ist", "sources": "Quellen", "more": "Fortsetzung"},
}

# Pack authors write "not shown" when a source page shows no date, and "not shown (2022)" when they know roughly
# when it was published (docs/pack-format.md). Readers get the approximate date or nothing, never the note.
_NO_DATE = frozenset({"not shown", "n/a", "unknown", "undated", "-", "—"})
_NOT_SHOWN_BUT = re.compile(r"not shown\s*\((?P<approx>[^()]+)\)", re.IGNORECASE)

def render_card(tp: TalkingPoint, lang: str | None) -> RenderedCard:
    """The card for ``tp`` in ``lang`` if the pack has it, else English."""
    card_lang, text = tp.card_for(lang)
    # the footer says what the card is, in neutral words whatever the pack's topic (bot.core.phrases)
    footer = phrase(card_lang, "card_footer", pack=tp.pack_id, version=tp.pack_version, tp=tp.id)
    return RenderedCard(
        talking_point_id=tp.id,
        lang=card_lang,
        title=text.title,
        summary=text.summary,
        key_facts=tuple(text.key_facts),
        why_it_matters=text.why_it_matters,
        sources=tuple(tp.sources),
        footer=footer,
        pack_version=tp.pack_version,
    )


def section_label(lang: str, section: str) -> str:
    """``section``: key_facts, why, sources or more."""
    return SECTION_LABELS.get(lang, SECTION_LABELS["en"])[section]


def sources_label(lang: str) -> str:
    return section_label(lang, "sources")


def shown_date(source: Source) -> str:
    """The source's date as a reader should see it: "" when unknown, "2022" for "not shown (2022)"."""
    text = " ".join((source.date or "").split())
    if text.lower() in _NO_DATE:
        return ""
    if match := _NOT_SHOWN_BUT.fullmatch(text):
        return match["approx"].strip()
    return text


def source_text(source: Source) -> str:
    """One source as plain text: "publisher: title (date) url", the date left out when unknown."""
    date = shown_date(source)
    return f"{source.publisher}: {source.title}{f' ({date})' if date else ''} {source.url}"


def card_as_text(card: RenderedCard, *, source_prefix: str = "  - ") -> str:
    """Plain-text rendering (console, logs, Matrix's plain-text body); a section with nothing in it is left out."""
    lines = [f"ℹ️ {card.title}", "", card.summary, ""]
    lines += [f"• {fact}" for fact in card.key_facts]
    if card.why_it_matters:
        lines += ["", card.why_it_matters]
    if card.sources:
        lines += ["", f"{sources_label(card.lang)}:"]
        lines += [f"{source_prefix}{source_text(s)}" for s in card.sources]
    lines += ["", card.footer]
    return "\n".join(lines)
