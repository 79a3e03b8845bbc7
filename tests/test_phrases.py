"""What members read in answer to a check, in the cards' languages."""

from __future__ import annotations

import re
import string

import pytest

from bot.core.models import Action, Decision, Explanation, Stance
from bot.core.phrases import PHRASES, STANCE_NAMES, check_reason, check_summary, phrase, stance_name

REASON = "assertion, but not confident enough to reply: moderator review"


def _decision(tp: str | None, action: Action = Action.REVIEW, stance: Stance | None = Stance.ASSERT,
              lang: str = "en") -> Decision:
    expl = Explanation(tp, stance, {}, 0.7, 0.5, 0.66, None, None, False, REASON, lang)
    return Decision(action, tp, stance, 0.62, expl, lang=lang)


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("lang", sorted(PHRASES))
def test_every_language_says_everything_english_says_with_the_same_blanks(lang):
    assert PHRASES[lang].keys() == PHRASES["en"].keys()
    for key, text in PHRASES[lang].items():
        assert text.strip(), key
        assert _fields(text) == _fields(PHRASES["en"][key]), key
    assert STANCE_NAMES[lang].keys() == {*Stance, None}
    for key, text in PHRASES[lang].items():  # every blank can be filled in through phrase()
        filled = phrase(lang, key, **{name: "<x>" for name in _fields(text)})
        assert "{" not in filled and filled.count("<x>") == len(_fields(text)), key


@pytest.mark.parametrize("lang", ["ru", "uk"])
def test_cyrillic_answers_have_no_english_words(lang):
    for key, text in PHRASES[lang].items():
        words = re.findall(r"[A-Za-z]+", re.sub(r"\{\w+\}", "", text))  # blanks aside
        # the channel mode's name, as the mode command spells it, and the "v" of a card footer's pack version
        assert set(words) <= {"reply", "v"}, (key, words)


@pytest.mark.parametrize("lang,expected", [
    ("en", "There is no text to check."),
    ("ru", "Нет текста для проверки."),
    ("uk", "Немає тексту для перевірки."),
    ("de", "Es gibt keinen Text zu prüfen."),
    ("fr", "There is no text to check."),  # not spoken: English
    (None, "There is no text to check."),
])
def test_phrase_falls_back_to_english(lang, expected):
    assert phrase(lang, "no_text") == expected


def test_english_check_summary_leaves_the_detectors_internal_reason_out():
    assert check_summary(_decision("us-biolabs"), "Biolabs?", "en") == (
        "Closest talking point: Biolabs? (us-biolabs) · stance: assert · score 0.62 · in a reply-mode room this "
        "would be sent to moderators for review.")
    assert check_summary(_decision(None, Action.NONE, None), None, "en") == "No known talking point found."


@pytest.mark.parametrize("lang,action,stance,expected", [
    ("ru", Action.REVIEW, Stance.ASSERT,
     "Ближайший тезис: Т (us-biolabs) · позиция: утверждает · оценка 0.62 · в комнате в режиме reply это сообщение "
     "было бы передано модераторам на проверку."),
    ("uk", Action.REPLY, Stance.ASSERT,
     "Найближчий наратив: Т (us-biolabs) · позиція: стверджує · оцінка 0.62 · у кімнаті в режимі reply це "
     "повідомлення отримало б картку з контекстом."),
    ("de", Action.NONE, Stance.REFUTE,
     "Nächstes Narrativ: Т (us-biolabs) · Haltung: widerlegt es · Wert 0.62 · in einem Raum im Modus reply bliebe "
     "diese Nachricht ohne Folgen."),
])
def test_check_summary_in_the_members_language_leaves_the_english_reason_out(lang, action, stance, expected):
    summary = check_summary(_decision("us-biolabs", action, stance, lang), "Т", lang)
    assert summary == expected and REASON not in summary


def test_nothing_found_in_russian():
    assert check_summary(_decision(None, Action.NONE, None, "ru"), None, "ru") == "Известный тезис не найден."


@pytest.mark.parametrize("stance", [*Stance, None])
def test_english_stance_names_are_the_values_moderators_see_elsewhere(stance):
    assert stance_name("en", stance) == (stance.value if stance else "unknown")
    assert stance_name("xx", stance) == stance_name("en", stance)


@pytest.mark.parametrize("lang,shown", [("en", True), (None, True), ("fr", True), ("ru", False), ("uk", False),
                                        ("de", False)])
def test_the_detectors_reason_goes_with_english_answers_only(lang, shown):
    assert check_reason(_decision("us-biolabs"), lang) == (REASON if shown else None)


@pytest.mark.parametrize("lang", ["en", "ru", "uk", "de", "fr"])
def test_card_footers_are_neutral_whatever_the_packs_topic(registry, lang):
    """A COVID-19 or election pack's cards must not call every talking point 'propaganda' (issue 18)."""
    from bot.core.cards import render_card

    for tp in registry.talking_points():
        footer = render_card(tp, lang).footer
        assert not re.search(r"(?i)propagand|пропаганд", footer), footer
        assert footer.startswith(f"{tp.pack_id} v{tp.pack_version} · ") and f"({tp.id})" in footer
