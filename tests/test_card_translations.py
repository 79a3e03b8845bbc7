"""The Russian, Ukrainian and German cards say the same numbers, dates and source references as the English card.

A translation that drops a figure, changes a date or cites another source is the error a screenshot spreads, so
every card part is compared with the English one: the numbers in it (thousands separators and decimal marks
written either way), the months it names, the footnotes in the summary and each key fact's sources and "as of"
date. Roman numerals and numbers in words are not read: pack authors write figures in digits in every language.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from bot.core.models import CardText
from bot.core.packs import citations, default_pack_dirs, load_pack

# 14,000 / 14.000 / 14 000 (also with a no-break space) / 3.6 / 3,6 -> one token of its digits; digits inside a
# name ("MH17", "G7", "Minsk-2" for "Minsk II") are not figures
_SPACED_THOUSANDS = re.compile(r"(?<=\d)[ \u00a0\u202f](?=\d{3}(?!\d))")
_NUMBER = re.compile(r"(?<![\w-])\d+(?:[.,]\d+)*")
_FOOTNOTE = re.compile(r"\[\d+\]")

_MONTH_WORDS = {
    "en": ["January|Jan", "February|Feb", "March|Mar", "April|Apr", "May", "June|Jun", "July|Jul",
           "August|Aug", "September|Sept|Sep", "October|Oct", "November|Nov", "December|Dec"],
    "de": ["Januar|Jan", "Februar|Feb", "März", "April|Apr", "Mai", "Juni", "Juli", "August|Aug",
           "September|Sept|Sep", "Oktober|Okt", "November|Nov", "Dezember|Dez"],
    "ru": ["январ[ьяею]|янв", "феврал[ьяею]|фев", "март[аеу]?", "апрел[ьяею]|апр", "ма[йяею]", "июн[ьяею]",
           "июл[ьяею]", "август[аеу]?|авг", "сентябр[ьяею]|сент?", "октябр[ьяею]|окт", "ноябр[ьяею]|нояб?",
           "декабр[ьяею]|дек"],
    "uk": ["січ(?:ень|ня|ні|ню)", "лют(?:ий|ого|ому|ім)|лют", "берез(?:ень|ня|ні|ню)", "квіт(?:ень|ня|ні|ню)",
           "трав(?:ень|ня|ні|ню)?", "черв(?:ень|ня|ні|ню)", "лип(?:ень|ня|ні|ню)", "серп(?:ень|ня|ні|ню)?",
           "верес(?:ень|ня|ні|ню)", "жовт(?:ень|ня|ні|ню)", "листопад(?:а|і|у)?", "груд(?:ень|ня|ні|ню)"],
}
# English and German month names are capitalised (so "may" the verb is not May); Russian and Ukrainian are not
_MONTHS = {
    lang: [re.compile(rf"(?<![^\W\d_])(?:{words})(?![^\W\d_])", 0 if lang in ("en", "de") else re.IGNORECASE)
           for words in months]
    for lang, months in _MONTH_WORDS.items()
}


def numbers(text: str) -> Counter[str]:
    """The figures in ``text`` as digit strings, footnotes left out: "14,000 and 3.6 % [2]" -> {14000, 36}."""
    text = _SPACED_THOUSANDS.sub("", _FOOTNOTE.sub("", text))
    return Counter(re.sub(r"[.,]", "", n) for n in _NUMBER.findall(text))


def months(text: str, lang: str) -> Counter[int]:
    return Counter({m: n for m, rx in enumerate(_MONTHS[lang], 1) if (n := len(rx.findall(text)))})


def parts(card: CardText, lang: str) -> dict[str, object]:
    """What must agree between languages, part by part."""
    out: dict[str, object] = {"summary footnotes": citations(card.summary)}
    texts = {"title": card.title, "summary": card.summary, "why_it_matters": card.why_it_matters}
    texts |= {f"key_facts[{i}]": fact.text for i, fact in enumerate(card.key_facts)}
    for name, text in texts.items():
        out[f"{name} numbers"] = numbers(text)
        out[f"{name} months"] = months(text, lang)
    for i, fact in enumerate(card.key_facts):
        out[f"key_facts[{i}] sources"] = fact.sources
        out[f"key_facts[{i}] as_of"] = fact.as_of
    out["key facts"] = len(card.key_facts)
    return out


@pytest.mark.parametrize("text,expected", [
    ("14,000 people; 3.6% [1]", {"14000": 1, "36": 1}),
    ("14.000 Menschen; 3,6 % [1]", {"14000": 1, "36": 1}),
    ("14 000 человек; 3,6 % [1][2]", {"14000": 1, "36": 1}),
    ("3 404 мирных жителя, 298 — на борту", {"3404": 1, "298": 1}),
    ("13 votes to 2 on 16 March 2022", {"13": 1, "2": 1, "16": 1, "2022": 1}),
    ("Minsk II (Минск-2), MH17 and G7: 2 figures, 1990s", {"2": 1, "1990": 1}),
])
def test_numbers_read_separators_either_way(text, expected):
    assert numbers(text) == Counter(expected)


@pytest.mark.parametrize("text,lang,expected", [
    ("On 16 March 2022; in May–Aug 2019; Russia may object", "en", {3: 1, 5: 1, 8: 1}),
    ("Am 16. März 2022; Mai–Aug. 2019", "de", {3: 1, 5: 1, 8: 1}),
    ("16 марта 2022 года; май–авг. 2019; в мае; к декабрю", "ru", {3: 1, 5: 2, 8: 1, 12: 1}),
    ("16 березня 2022 року; трав.–серп. 2019; у лютому", "uk", {3: 1, 5: 1, 8: 1, 2: 1}),
])
def test_months_are_read_in_every_language(text, lang, expected):
    assert months(text, lang) == Counter(expected)


SHIPPED = [load_pack(d) for d in default_pack_dirs()]
CASES = [(tp, lang) for pack in SHIPPED for tp in pack.talking_points for lang in tp.cards if lang != "en"]


@pytest.mark.parametrize("tp,lang", CASES, ids=[f"{tp.id}-{lang}" for tp, lang in CASES])
def test_translated_card_has_the_english_numbers_dates_and_sources(tp, lang):
    english, translated = parts(tp.cards["en"], "en"), parts(tp.cards[lang], lang)
    differences = {k: (english[k], translated.get(k)) for k in english if translated.get(k) != english[k]}
    assert not differences, f"{tp.id} ({lang}) differs from the English card: {differences}"


def _card(summary: str, fact: str, sources: tuple[int, ...] = (1,), as_of: str = "") -> CardText:
    from bot.core.models import KeyFact

    return CardText(title="t", summary=summary, why_it_matters="w",
                    key_facts=(KeyFact(fact, sources, as_of), KeyFact("Other.", (2,))))


@pytest.mark.parametrize("translated,part", [
    (_card("В 2021 году погибли 26 человек [1].", "14 000 погибших."), "summary numbers"),
    (_card("В 2021 году погибли 25 человек [2].", "14 000 погибших."), "summary footnotes"),
    (_card("В 2021 году погибли 25 человек [1].", "14 000 погибших в марте."), "key_facts[0] months"),
    (_card("В 2021 году погибли 25 человек [1].", "14 000 погибших.", sources=(1, 2)), "key_facts[0] sources"),
    (_card("В 2021 году погибли 25 человек [1].", "14 000 погибших.", as_of="2022"), "key_facts[0] as_of"),
])
def test_a_translation_that_changes_a_figure_date_or_source_is_caught(translated, part):
    english = _card("In 2021, 25 people were killed [1].", "14,000 killed.")
    assert parts(english, "en")[part] != parts(translated, "ru")[part]
    assert parts(english, "en") == parts(_card("В 2021 году погибли 25 человек [1].", "14 000 погибших."), "ru")
