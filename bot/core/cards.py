"""Turn a talking point into a card in the reader's language."""

from __future__ import annotations

import re

from .models import KeyFact, RenderedCard, Source, TalkingPoint
from .phrases import phrase

# Section headings and the short notes renderers add to a card's parts, in the card's language (English otherwise).
# "as_of" takes a date written as in `_AS_OF_DATE`; "no_url" stands where a source has no confirmed URL.
SECTION_LABELS = {
    "en": {"key_facts": "Key facts", "why": "Why it matters", "sources": "Sources", "more": "continued",
           "as_of": "as of {date}", "no_url": "URL not confirmed"},
    "ru": {"key_facts": "Ключевые факты", "why": "Почему это важно", "sources": "Источники", "more": "продолжение",
           "as_of": "данные на {date}", "no_url": "URL не подтверждён"},
    "uk": {"key_facts": "Ключові факти", "why": "Чому це важливо", "sources": "Джерела", "more": "продовження",
           "as_of": "дані на {date}", "no_url": "URL не підтверджено"},
    "de": {"key_facts": "Fakten", "why": "Warum das wichtig ist", "sources": "Quellen", "more": "Fortsetzung",
           "as_of": "Stand: {date}", "no_url": "URL nicht bestätigt"},
}
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()

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
        key_facts=tuple(fact_line(fact, card_lang) for fact in text.key_facts),
        why_it_matters=text.why_it_matters,
        sources=tuple(tp.sources),
        footer=footer,
        pack_version=tp.pack_version,
    )


def section_label(lang: str, section: str) -> str:
    """``section``: key_facts, why, sources, more, as_of or no_url."""
    return SECTION_LABELS.get(lang, SECTION_LABELS["en"])[section]


def footnotes(numbers: tuple[int, ...] | list[int]) -> str:
    """``(1, 3)`` -> "[1][3]": how cards cite their numbered sources."""
    return "".join(f"[{n}]" for n in numbers)


def as_of_text(as_of: str, lang: str) -> str:
    """An ISO "as of" date for readers: "as of 27 Jan 2022" in English, "Stand: 27.01.2022" in German,
    numeric in Russian and Ukrainian ("данные на 01.2022"), the year alone for a year."""
    parts = as_of.split("-")
    if lang in SECTION_LABELS and lang != "en":
        date = ".".join(reversed(parts))
    else:
        date = " ".join([*(p.lstrip("0") for p in parts[2:]), *(_MONTHS[int(m) - 1] for m in parts[1:2]), parts[0]])
    return section_label(lang, "as_of").format(date=date)


def fact_line(fact: KeyFact, lang: str) -> str:
    """A key fact as readers see it: its text, its footnotes, and its "as of" date when it has one."""
    as_of = f" ({as_of_text(fact.as_of, lang)})" if fact.as_of else ""
    return f"{fact.text} {footnotes(fact.sources)}{as_of}"


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


def source_text(source: Source, lang: str = "en") -> str:
    """One source as plain text: "publisher: title (date) url", the date left out when unknown, and "URL not
    confirmed" (in ``lang``) for a source the pack names without a URL."""
    date = shown_date(source)
    return f"{source.publisher}: {source.title}{f' ({date})' if date else ''} {source.url or no_url(lang)}"


def no_url(lang: str) -> str:
    """What stands in place of a link for a source named without a confirmed URL: "(URL not confirmed)"."""
    return f"({section_label(lang, 'no_url')})"


def card_as_text(card: RenderedCard, *, source_prefix: str = "  ") -> str:
    """Plain-text rendering (console, logs, Matrix's plain-text body); a section with nothing in it is left out.

    Sources are numbered as the footnotes in the summary and key facts cite them: "[1] publisher: title ..."."""
    lines = [f"ℹ️ {card.title}", "", card.summary, ""]
    lines += [f"• {fact}" for fact in card.key_facts]
    if card.why_it_matters:
        lines += ["", card.why_it_matters]
    if card.sources:
        lines += ["", f"{sources_label(card.lang)}:"]
        lines += [f"{source_prefix}{footnotes([n])} {source_text(s, card.lang)}"
                  for n, s in enumerate(card.sources, 1)]
    lines += ["", card.footer]
    return "\n".join(lines)
