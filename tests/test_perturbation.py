"""Metamorphic tests (issue #13, point 3): noise a reader ignores must not change what the bot does.

The perturbations are the functions of bench/perturb.py (which prints the flip rates over the whole dev set).
Markup-level noise - junk codes such as ``(b1.00)``, URLs, Markdown links, HTML, code fences, Discord markup,
case - is removed by the normaliser, so it must leave the normalised text, the detected language and the
decision unchanged. Text-level noise (``lol``, emoji, quotation marks, typos, filler sentences) is for the
detector to weigh; its figures are in the bench, and the filler case is kept here as a known failure.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest

from bot.core.lang import detect_language
from bot.core.models import Action, Stance
from bot.core.normalize import normalize

ROOT = Path(__file__).resolve().parents[1]


def _load_bench():
    spec = importlib.util.spec_from_file_location("perturb", ROOT / "bench" / "perturb.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("perturb", module)  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


perturb = _load_bench()
MARKUP = [name for name, p in perturb.PERTURBATIONS.items() if p.level == "markup"]
SEED = 13

# Clear cases from data/devset.jsonl: (id, lang, talking point, text). Each assertion gets a reply.
ASSERTIONS = [
    ("dev-0445", "en", "dirty-bomb",
     "Ukraine is building a dirty bomb at Chernobyl, Shoigu warned everyone and the west laughed"),
    ("dev-0195", "en", "nazi-regime",
     "Call it what you want but the people running Ukraine are neo-nazis and the west is arming them"),
    ("dev-0455", "ru", "dirty-bomb", "у них на ЧАЭС есть всё для грязной бомбы, просто ждут момента. вот увидите"),
    ("dev-0350", "uk", "maidan-coup", "у 2014 законного президента скинули американці, це був держпереворот"),
    ("dev-0164", "de", "dirty-bomb", "Die Ukraine baut an einer schmutzigen Bombe, Schoigu hat davor gewarnt"),
]
REFUTATIONS = [
    ("dev-0463", "en", "nazi-regime",
     "no, Ukraine isn't a Nazi regime. the far right got 2% in 2019 and no seats as a party"),
    ("dev-0609", "ru", "nato-expansion-provoked",
     "«НАТО вынудило Россию» — нет. Финляндия вступила в НАТО, а Россия войска с той границы вообще вывела. "
     "значит, не в НАТО дело"),
    ("dev-0604", "uk", "nazi-regime",
     "«денацифікація» — просто привід. у вагнерівців свастики на плечах, і ніхто в Москві не переймається"),
    ("dev-0542", "de", "nato-expansion-provoked",
     "„Die NATO hat Russland gezwungen“ – nein. Russland hat sich für den Angriff entschieden. Finnland ist "
     "beigetreten und Russland hat dort Truppen abgezogen"),
]
EXAMPLES = ASSERTIONS + REFUTATIONS


def _devset_rows() -> list[dict]:
    rows = perturb.load_devset(ROOT / "data" / "devset.jsonl")
    return [r for r in rows if r["label"] in ("assert", "refute")]


def _seen(decision) -> tuple:
    """What members and moderators see: action, talking point (none when nothing happens), stance, language."""
    acted = decision.action is not Action.NONE
    return (decision.action, decision.talking_point_id if acted else None,
            decision.stance if acted else None, decision.lang)


@pytest.fixture(scope="module")
def originals(detector) -> dict[str, object]:
    return dict(zip((e[3] for e in EXAMPLES), detector.check_many([e[3] for e in EXAMPLES])))


# ------------------------------------------------------------------------------ the perturbations themselves


@pytest.mark.parametrize("name", list(perturb.PERTURBATIONS))
def test_perturbation_is_deterministic_and_changes_the_message(name: str) -> None:
    p = perturb.PERTURBATIONS[name]
    text = "NATO Kept Creeping East, everyone knows it."
    first = p(text, "en", perturb.rng_for(SEED, "dev-x", name))
    assert first == p(text, "en", perturb.rng_for(SEED, "dev-x", name))
    assert first != text


@pytest.mark.parametrize("name", ["typo_one", "typo_two"])
def test_typos_touch_one_or_two_words_never_every_word(name: str) -> None:
    text = "Ukraine is building a dirty bomb at Chernobyl, Shoigu warned everyone"
    for seed in range(20):
        out = perturb.PERTURBATIONS[name](text, "en", random.Random(seed))
        changed = [a for a, b in zip(text.split(), out.split()) if a != b]
        assert len(out.split()) == len(text.split())
        assert 1 <= len(changed) <= (1 if name == "typo_one" else 2)
        assert all(len(b) >= len(a) - 1 for a, b in zip(text.split(), out.split()))  # a swap or one drop
    assert perturb.typo_two("Chernobyl", "en", random.Random(0)) != "Chernobyl"  # one long word: one typo


@pytest.mark.parametrize("lang", ["en", "ru", "uk", "de"])
@pytest.mark.parametrize("size", [500, 2000, 4000])
def test_buried_assertion_sits_between_filler_sentences_within_the_size(lang: str, size: int) -> None:
    text = next(e[3] for e in ASSERTIONS if e[1] == lang)
    out = perturb.bury(text, lang, random.Random(size), size)
    assert size * 0.8 <= len(out) <= size
    before, after = out.split(text)
    assert sum(s in before for s in perturb.FILLERS[lang]) >= 2
    assert sum(s in after for s in perturb.FILLERS[lang]) >= 2


# ------------------------------------------------------------------------------ markup noise is invisible


@pytest.mark.parametrize("name", MARKUP)
def test_markup_noise_leaves_normalised_text_and_language_unchanged(name: str) -> None:
    """Over every labelled assertion and refutation of the dev set: the detector sees the very same text."""
    changed = []
    for row in _devset_rows():
        variant = perturb.PERTURBATIONS[name](row["text"], row["lang"], perturb.rng_for(SEED, row["id"], name))
        if (normalize(variant).text, detect_language(variant)) != (normalize(row["text"]).text,
                                                                   detect_language(row["text"])):
            changed.append((row["id"], variant))
    assert changed == []


def test_examples_are_clear(originals) -> None:
    """The examples below mean something: each assertion gets its card, no refutation gets one."""
    for _, lang, point, text in ASSERTIONS:
        d = originals[text]
        assert (d.action, d.talking_point_id, d.stance, d.lang) == (Action.REPLY, point, Stance.ASSERT, lang)
    for _, lang, _, text in REFUTATIONS:
        assert originals[text].action is Action.NONE and originals[text].lang == lang


@pytest.mark.parametrize("name", MARKUP)
@pytest.mark.parametrize("example", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_markup_noise_keeps_the_decision(detector, originals, example, name: str) -> None:
    ident, lang, _, text = example
    variant = perturb.PERTURBATIONS[name](text, lang, perturb.rng_for(SEED, ident, name))
    assert _seen(detector.check(variant)) == _seen(originals[text])


# The known failures, written out: each turned a reply into review or an assertion into a refutation.
KNOWN_FAILURES = {
    "trailing (b1.00)": lambda t: f"{t} (b1.00)",
    "script prefix": lambda t: f"<script>alert(1)</script>{t}",
    "markdown link": lambda t: f"[{t}](https://example.com/news/1)",
}


@pytest.mark.parametrize("case", list(KNOWN_FAILURES))
@pytest.mark.parametrize("example", ASSERTIONS, ids=[e[0] for e in ASSERTIONS])
def test_known_noise_keeps_a_reply_a_reply(detector, example, case: str) -> None:
    _, lang, point, text = example
    d = detector.check(KNOWN_FAILURES[case](text))
    assert (d.action, d.talking_point_id, d.stance, d.lang) == (Action.REPLY, point, Stance.ASSERT, lang)


@pytest.mark.parametrize("case", list(KNOWN_FAILURES))
@pytest.mark.parametrize("example", REFUTATIONS, ids=[e[0] for e in REFUTATIONS])
def test_known_noise_gives_a_refutation_no_card(detector, example, case: str) -> None:
    _, lang, _, text = example
    d = detector.check(KNOWN_FAILURES[case](text))
    assert d.action is not Action.REPLY and d.stance is not Stance.ASSERT


# ------------------------------------------------------------------------------ the detector's part


@pytest.mark.xfail(strict=True, reason="issue #13: a clear assertion followed by ~200 characters of small talk "
                   "loses its card; per-sentence decisions are the detector's part (bench/perturb.py prints the "
                   "buried-assertion figures). Remove this marker when it passes.")
def test_assertion_followed_by_small_talk_keeps_its_reply(detector) -> None:
    texts = [f"{text} {' '.join(perturb.FILLERS[lang][:3])}" for _, lang, _, text in ASSERTIONS]
    decided = detector.check_many(texts)
    assert [(d.action, d.talking_point_id) for d in decided] == [(Action.REPLY, e[2]) for e in ASSERTIONS]


# ------------------------------------------------------------------------------ long messages and quotes


@pytest.mark.parametrize("size", [2000, 4000])
@pytest.mark.parametrize("example", ASSERTIONS, ids=[e[0] for e in ASSERTIONS])
def test_an_assertion_buried_in_small_talk_is_found_and_its_span_named(detector, example, size: int) -> None:
    """Issue #13: one assertion among ~2,000 (or 4,000) characters of small talk in its language is still seen,
    and the explanation names the sentence the decision rests on."""
    ident, lang, point, text = example
    message = perturb.bury(text, lang, perturb.rng_for(SEED, ident, f"bury{size}"), size)
    d = detector.check(message)
    assert (d.action is not Action.NONE, d.talking_point_id, d.stance) == (True, point, Stance.ASSERT)
    a, b = d.explanation.span
    start = message.index(text.rstrip("."))
    assert a < start + len(text) and b > start  # the span is (part of) the assertion ...
    assert b - a <= len(text) + 120  # ... with at most one short neighbour, not the small talk around it
    assert f"{a}-{b}" in d.explanation.reason


@pytest.mark.parametrize("quotes", [('"', '"'), ("\u201c", "\u201d"), ("\u00ab", "\u00bb"), ("\u201e", "\u201c")])
@pytest.mark.parametrize("example", ASSERTIONS, ids=[e[0] for e in ASSERTIONS])
def test_a_message_wholly_in_quotation_marks_is_seen_but_never_gets_a_card(detector, originals, example,
                                                                          quotes) -> None:
    """Someone quoting a claim (the whole message in quotation marks) is read as the words it quotes: what
    would get a card goes to a moderator instead."""
    _, lang, point, text = example
    d = detector.check(f"{quotes[0]}{text}{quotes[1]}")
    assert (d.action, d.talking_point_id, d.lang) == (Action.REVIEW, point, lang)
    assert "quotes someone" in d.explanation.reason
