"""The real detector (multilingual encoder + trained stance model) on messages written for these tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.core.detector import point_document, prefix_index, prefix_keywords, specific_vocabulary, word_keys
from bot.core.models import Action, Stance

REFUTATIONS = [
    "No, NATO didn't force anyone. Countries asked to join, and Russia chose to invade.",
    "It's a myth that NATO expansion forced Russia to invade; countries choose to join, and Russia chose to attack.",
    "Bucha was not staged. Satellite images showed the bodies on the street while Russian troops were there.",
    "The biolabs story is Kremlin propaganda, those were ordinary public health labs.",
    "Нет никаких американских биолабораторий, это старый фейк российской пропаганды.",
    "Ні, Буча не постановка, супутникові знімки показали тіла ще під час окупації.",
    "Die Geschichte von den Biolaboren ist Propaganda des Kreml, das wurde längst widerlegt.",
]
REPORTS = [
    "Lavrov said again today that NATO expansion left Moscow no choice.",
    "Захарова снова заявила, что Буча была постановкой.",
]
OFF_TOPIC = [
    "my cats finally agreed to a ceasefire over the sofa",
    "the biolab at my uni is hiring summer interns",
    "Anyone watching the match tonight? I'll bring snacks.",
    "этот рецепт борща просто огонь",
]
ASSERTIONS = [
    ("Bucha was staged, the bodies were brought in after the Russians left, all for Western cameras.", "bucha-staged"),
    ("The US runs secret biolabs in Ukraine making bioweapons aimed at Russia.", "us-biolabs"),
    ("Буча — это постановка, тела подкинули после ухода наших войск.", "bucha-staged"),
]


@pytest.mark.parametrize("text", REFUTATIONS + REPORTS)
def test_refutations_and_reports_never_get_a_reply(detector, text):
    d = detector.check(text)
    assert d.action is not Action.REPLY, d.explanation


@pytest.mark.parametrize("text", OFF_TOPIC)
def test_off_topic_trigger_words_are_left_alone(detector, text):
    d = detector.check(text)
    assert d.action is Action.NONE and not d.is_incident


@pytest.mark.parametrize("text,tp", ASSERTIONS)
def test_assertions_are_flagged_with_their_talking_point(detector, text, tp):
    d = detector.check(text)
    assert d.talking_point_id == tp
    assert d.action in (Action.REPLY, Action.REVIEW) and d.is_incident
    assert d.stance is Stance.ASSERT


def test_decision_explains_itself(detector):
    d = detector.check(ASSERTIONS[0][0])
    e = d.explanation
    assert e.talking_point_id == d.talking_point_id and e.nearest_exemplar and e.reason
    assert set(e.stance_probs) == {s.value for s in Stance}
    assert abs(sum(e.stance_probs.values()) - 1) < 1e-3
    assert 0 <= d.score <= 1 and 0 <= e.match_score <= 1


def test_question_is_not_an_incident(detector):
    d = detector.check("Is it true that the US has secret bioweapons labs in Ukraine?")
    assert d.stance is Stance.ASK and not d.is_incident and d.action is Action.NONE


def test_ordinary_chat_never_reaches_the_encoder(detector):
    d = detector.check("good morning all, the new patch looks amazing")
    assert d.explanation.gated and d.action is Action.NONE


@pytest.mark.parametrize("text", [
    "",
    "\u200b\u200b\u200b",
    "@everyone " * 2000,
    "NATO " * 30000,  # 150 KB
    "\ud800 lone surrogate Bucha",
    "B\u200bu\u200bc\u200bh\u200ba was st\u0430ged, the b0dies were br0ught in for the cameras",
])
def test_hostile_input_never_crashes(detector, text):
    d = detector.check(text)
    assert d.action in (Action.REPLY, Action.REVIEW, Action.NONE)


def test_evasion_does_not_hide_a_known_talking_point(detector):
    plain = detector.check(ASSERTIONS[0][0])
    evasive = detector.check("B\u200bucha was st\u0430ged, the b0dies were brought in after the Russians left, "
                             "all for W e s t e r n cameras.")
    assert evasive.talking_point_id == plain.talking_point_id == "bucha-staged"


def test_disabled_pack_matches_nothing(detector):
    d = detector.check(ASSERTIONS[0][0], disabled_packs=("ukraine-war",))
    assert d.talking_point_id is None and d.action is Action.NONE


def test_server_false_positive_verdict_applies_to_that_server_only(detector, registry):
    from bot.app import build_detector
    from bot.config import Config

    det = build_detector(Config(), registry)  # a private instance: verdicts must not leak into other tests
    text = ASSERTIONS[1][0]
    before = det.check(text, server_id="s1")
    assert before.is_incident
    det.add_server_exemplar("s1", before.talking_point_id, text, positive=False)
    assert det.check(text, server_id="s1").action is Action.NONE
    assert det.check(text, server_id="s2").action is before.action


def test_no_talking_point_means_no_assert_score(detector):
    """The score is the probability that the author asserts the point: with no point it is 0, not the match."""
    d = detector.check("the biolab at my uni is hiring summer interns")  # past the gate, below the match threshold
    assert d.talking_point_id is None and not d.explanation.gated and d.explanation.match_score > 0.3
    assert d.score == 0.0


def test_the_cache_path_is_where_build_keeps_the_trained_detector(registry, tmp_path):
    from bot.core.detector import Detector

    class Fixed:  # an encoder of our interface: same vector for every text
        name, dim = "fixed", 4

        def encode(self, texts):
            import numpy as np

            return np.tile(np.array([0.5, 0.5, 0.5, 0.5], dtype=np.float32), (len(texts), 1))

    path = Detector.cache_path(registry, Fixed(), tmp_path)
    assert not path.exists()
    Detector.build(registry, encoder=Fixed(), cache_dir=tmp_path)
    assert path.exists()


@pytest.mark.parametrize("text,reported", [
    ("this reddit post is saying the Pentagon runs 46 biolabs in Ukraine", True),
    ("Говорят, Нуланд сама проболталась про биолаборатории в сенате", True),
    ("Кажуть, що Буча була постановкою для камер", True),
    ("Angeblich war Butscha nur für die Kameras inszeniert", True),
    ("I'm not saying this lightly: Bucha was staged for the cameras", False),
    ("Bucha was staged for the cameras", False),
    ("Буча — это постановка для западных камер", False),
])
def test_reported_speech_is_a_reason_to_hold_the_card_back(detector, text, reported):
    from bot.core.detector import _no_reply_reason

    reason = _no_reply_reason(detector.prepare(text), None, ())
    assert (reason is not None and "report what others say" in reason) is reported, reason


def test_an_assertion_passed_on_as_hearsay_is_reviewed_not_answered(detector):
    claim = "ми з росіянами один народ, нас просто посварили політики з Заходу"
    assert detector.check(claim).action is Action.REPLY  # in the author's own voice: a card
    d = detector.check("Кажуть, " + claim)  # "they say, ...": the stance model still reads an assertion
    assert d.action is Action.REVIEW and d.talking_point_id == "ukraine-artificial-state"
    assert "report what others say" in d.explanation.reason


@pytest.mark.parametrize("text,hypothetical", [
    ("If the nuclear plant blows up, it would be game over for both sides", True),
    ("Russia would never have invaded if Ukraine had been in NATO", True),
    ("Если бы НАТО не расширялось, войны бы не было", True),
    ("Якби НАТО не розширювалося, війни б не було", True),
    ("Wenn die NATO sich nicht erweitert hätte, gäbe es keinen Krieg", True),
    ("NATO expansion forced Russia's hand", False),
    ("If you ask me, Bucha was staged.", False),  # an "if" without a "would": a figure of speech
    ("I would say Bucha was staged. If anything, the photos prove it.", False),  # not in one sentence
])
def test_a_hypothetical_is_a_reason_to_hold_the_card_back(detector, text, hypothetical):
    from bot.core.detector import _no_reply_reason

    reason = _no_reply_reason(detector.prepare(text), None, ())
    assert (reason is not None and "hypothetical" in reason) is hypothetical, reason


# --- wording that argues back: never a card ---------------------------------------------------------------------------

@pytest.mark.parametrize("text,back", [
    ("Bucha was staged, sure, and the moon landing too.", "sure, and"),
    ("Bucha was staged. Yeah, and I'm the Pope.", "yeah, and"),
    ("Ukraine is an artificial state? So is every state, genius.", "genius"),
    ("Apparently Bucha was staged now. Unbelievable what people swallow.", "what people swallow"),
    ("NATO forced Russia's hand, said no historian ever", "said no historian ever"),
    ("Буча — постановка, ага, и тела сами себя закопали.", "ага, и"),
    ("Ну да, НАТО заставило Россию напасть. Ещё скажи, что Украина сама себя обстреливает.", "Ну да"),
    ("Біолабораторії США в Україні, авжеж, а ще рептилоїди.", "авжеж, а"),
    ("Butscha war inszeniert? Klar, und die Erde ist eine Scheibe.", "Klar, und"),
    ("by that logic Finland joining NATO was a casus belli too", "by that logic"),
    ("Bucha was staged. Source: trust me bro", "trust me bro"),
    ("People still think the Maidan was a US-backed coup, it's depressing.", "People still think"),
    ("Ukraine is full of Nazis, says the country whose mercenaries wear SS runes", "says the country whose"),
    ("Reminder that 'NATO provoked Russia' is a Kremlin talking point", "Kremlin talking point"),
    ("Зеленский нелегитимен, ну-ну.", "ну-ну"),
    ("Методичка: Зеленский нелегитимен", "Методичка"),
    ("Деякі досі вірять, що Буча була постановкою", "Деякі досі вірять"),
    ("Butscha war inszeniert, na sicher.", "na sicher"),
    # assertions in the author's own voice carry none of it
    ("Bucha was staged for the cameras", None),
    ("Sure looks like the sanctions backfired on Europe", None),
    ("Right now Europe pays three times more for gas, the sanctions backfired", None),
    ("Буча — это постановка для западных камер", None),
    ("Die Sanktionen schaden Europa mehr als Russland, klar und deutlich", None),
])
def test_argues_back_finds_sarcasm_and_mockery(text, back):
    from bot.core.calibrator import argues_back

    found = argues_back(text)
    assert (found and found.lower()) == (back and back.lower())


def test_each_mockery_pattern_names_words_it_cannot_match_without():
    """The prefilter in calibrator.mockery searches a pattern only when one of its words is in the message: every such
    word must occur in the pattern, and the prefiltered search must find what one alternation of them all finds."""
    import re

    from bot.core.calibrator import _F, _MOCKERY_PARTS, mockery

    for words, pattern in _MOCKERY_PARTS:
        assert words
        for w in words:
            assert w.rstrip("*") in pattern, (w, pattern)
    one = re.compile("(" + "|".join(p for _, p in _MOCKERY_PARTS) + ")", _F)
    samples = ["Bucha was staged, sure, and the moon landing too.", "said no historian ever", "Ну-ну.",
               "методичка кремля", "Біолабораторії, авжеж, а ще рептилоїди", "Klar, und die Erde ist eine Scheibe",
               "people still believe it", "some people think NATO did it", "the Kremlin assures us it was staged",
               "Bucha was staged for the cameras", "Sure looks like the sanctions backfired", ""]
    for s in samples:
        a, b = one.search(s), mockery(s)
        assert (a and a.group(0)) == (b and b.group(0)), s


@pytest.mark.parametrize("text", [
    "Bucha was staged, sure, and the moon landing too.",
    "Bucha was staged. Yeah, and I'm the Pope.",
    "Ukraine is an artificial state? So is every state, genius.",
    "Apparently Bucha was staged now. Unbelievable what people swallow.",
    "Bucha was staged. Source: trust me bro",
    "People still think the Maidan was a US-backed coup, it's depressing.",
])
def test_a_sarcastic_rebuttal_never_gets_a_card(detector, text):
    """Each of these replied before the rule: the stance model reads the claim and misses the mockery after it."""
    from bot.core.calibrator import argues_back

    d = detector.check(text, "en")
    assert d.action is not Action.REPLY
    assert argues_back(text)  # the rule holds the card back even when the verifier would not
    if d.action is Action.REVIEW and "claim-verifier score" not in d.explanation.reason:
        assert "argues back" in d.explanation.reason


# --- background vocabulary (pack.yaml ``background``) ----------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Russia invaded Ukraine.",
    "Russia invaded Ukraine in 2014.",
])
def test_the_wars_background_vocabulary_alone_matches_no_talking_point(detector, text):
    d = detector.check(text, "en")
    assert d.action is Action.NONE and d.talking_point_id is None
    assert "background vocabulary" in d.explanation.reason


@pytest.mark.parametrize("text,tp", [
    ("Bucha was staged for the cameras", "bucha-staged"),
    ("sanctions don't work, Europe is freezing while Russia's economy grows", "sanctions-backfire"),
])
def test_a_talking_points_own_words_still_match_next_to_background_words(detector, text, tp):
    d = detector.check(text, "en")
    assert d.action is not Action.NONE and d.talking_point_id == tp


@dataclass(frozen=True)
class _Pack:
    background: tuple[str, ...]


class _Registry:
    def __init__(self, background):
        self._pack = _Pack(tuple(background))

    def pack(self, pack_id):
        return self._pack


def test_specific_vocabulary_keeps_keywords_and_drops_background_words_of_claim_and_exemplars(registry):
    tp = registry.get("nato-expansion-provoked")
    specific = specific_vocabulary([tp], _Registry(["nato", "invade", "russia", "ukraine"]))[0]
    assert "nato" in specific  # a keyword of the point counts even though it is background
    assert "invade" not in specific and "russia" not in specific
    assert "expans" in specific  # stems: the first six letters
    assert specific_vocabulary([tp], _Registry([]))[0] is None  # a pack without background: no such rule


# --- keywords written as the start of a word --------------------------------------------------------------------------


def test_short_keywords_that_are_no_word_are_read_as_the_start_of_one(registry):
    keys = prefix_keywords(list(registry.talking_points()))
    assert {"штучн", "обіця", "рецес", "вкрад"} <= keys  # pack authors wrote word starts
    assert not {"state", "стан", "lenin", "nato"} & keys  # short keywords that are words stay whole words
    # long keywords whose stem begins a common word of another meaning are compared whole
    assert {"waffenstillstand", "большевик", "искусственн", "selbstbestimmung"} <= keys
    assert not {"elections", "propaganda", "санкции"} & keys  # a common word sharing the stem is a form of it


@pytest.mark.parametrize("text,carries,lacks", [
    ("Der Waffenstillstand in der Ukraine hält nicht", "waffenstillstand", None),
    ("Mehr Waffen für die Ukraine und Sanktionen", None, "waffenstillstand"),
    ("Украина — искусственное государство", "искусственн", None),
    ("Искусство и санкции против России", None, "искусственн"),
])
def test_long_keywords_need_the_whole_word_start(detector, registry, text, carries, lacks):
    p = detector.prepare(text)
    assert p.passed
    if carries:
        assert carries in p.stems
    if lacks:  # the message's stem (the keyword's first six letters) no longer finds the keyword
        assert lacks not in p.stems and lacks[:6] in p.stems
        tp = next(t for t in registry.talking_points() if any(k.lower() == lacks for k in t.keywords))
        keys = prefix_keywords([tp])
        assert word_keys(lacks, prefix_index(keys)) == [lacks] and point_document(tp, keys)[lacks] >= 3


@pytest.mark.parametrize("text,prefix", [
    ("Україна — штучна держава", "штучн"),
    ("Захід обіцяв не розширюватися", "обіця"),
    ("санкции ударили по Германии, там рецессия", "рецес"),
])
def test_a_word_that_begins_with_a_prefix_keyword_carries_it(detector, text, prefix):
    p = detector.prepare(text)
    assert p.passed and prefix in p.stems


@pytest.mark.parametrize("text,keys", [
    ("Україна штучна", ["україн", "штучн"]),  # a word that begins with a word-start key is that key
    ("ein Waffenstillstand", ["waffenstillstand"]),  # ("ein" is a stopword)
    ("mehr Waffen", ["mehr", "waffen"]),  # else its stem
    ("искусственное искусство", ["искусственн", "искусс"]),
])
def test_each_word_is_one_key(text, keys):
    by_head = prefix_index(frozenset({"штучн", "waffenstillstand", "искусственн"}))
    assert word_keys(text.lower(), by_head) == keys


def test_a_keyword_and_the_same_word_in_an_exemplar_are_one_term(registry):
    tp = next(t for t in registry.talking_points() if t.id == "ukraine-artificial-state")
    keys = prefix_keywords([tp])
    doc = point_document(tp, keys)  # "искусственн" is a keyword, and "искусственное" is in an exemplar
    assert "искусственн" in keys and doc["искусственн"] > 3
    assert not any(k.startswith("искусс") and k != "искусственн" for k in doc)


def test_a_word_that_only_contains_a_prefix_keyword_does_not_carry_it(detector):
    p = detector.prepare("Україна і нештучна розмова про санкції")
    assert p.passed and "штучн" not in p.stems
