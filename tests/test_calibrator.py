"""Stance calibrator (bot/core/calibrator.py): refutation cues, loading, and the two policy rules it drives."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from bot.core.calibrator import (CALIBRATOR_FEATURES, CALIBRATOR_PATH, REFUTE_CUE_NAMES, CalibratorError,
                                 StanceCalibrator, calibrator_row, load_calibrator, refute_cue_features)
from bot.core.models import Action, Stance
from bot.core.stance import CUES, cue_features
from bot.core.policy import Evidence, Thresholds, decide

A, R, P, Q, O = Stance.ASSERT, Stance.REFUTE, Stance.REPORT, Stance.ASK, Stance.OTHER
T = Thresholds()


def cues(text: str, quoted: bool = False) -> dict[str, float]:
    return dict(zip(REFUTE_CUE_NAMES, refute_cue_features(text, quoted)))


CUE_CASES = [
    # (language, text, cue that must fire)
    ("en", "Sure, and the bodies placed themselves", "rcue_sarcastic_open"),
    ("en", "by that logic Finland joining NATO should have been a casus belli too", "rcue_by_that_logic"),
    ("en", "Oh sure. NATO made them shell Kharkiv.", "rcue_sarcastic_open"),
    ("en", "Then why did they invade in 2014 already?", "rcue_rhetorical"),
    ("en", "Actually there were no biolabs, the IAEA and WHO looked.", "rcue_correction"),
    ("en", "People who say Bucha was staged never watched the satellite images.", "rcue_their_claim"),
    ("en", "Kremlin bots again, cope harder", "rcue_ridicule"),
    ("ru", "Ну да, конечно, это Украина сама себя обстреливает.", "rcue_sarcastic_open"),
    ("ru", "По этой логике Финляндия тоже угрожала России.", "rcue_by_that_logic"),
    ("ru", "На самом деле никакой биолаборатории там не было.", "rcue_correction"),
    ("ru", "Опять сказки про нацистов в Киеве.", "rcue_their_claim"),
    ("uk", "Ну звісно, це все НАТО винне.", "rcue_sarcastic_open"),
    ("uk", "За цією логікою Фінляндія теж мала стати приводом для війни.", "rcue_by_that_logic"),
    ("uk", "Насправді ніхто не забороняв російську мову.", "rcue_correction"),
    ("uk", "А чому тоді вони напали ще у 2014?", "rcue_rhetorical"),
    ("de", "Ja klar, und die NATO hat Russland gezwungen.", "rcue_sarcastic_open"),
    ("de", "Nach dieser Logik hätte auch Finnland ein Kriegsgrund sein müssen.", "rcue_by_that_logic"),
    ("de", "In Wirklichkeit gab es keine Biolabore.", "rcue_correction"),
    ("de", "Die Mär vom Nazi-Regime in Kiew glaubt doch niemand.", "rcue_their_claim"),
    ("de", "Warum dann der Angriff auf Kiew, wenn es nur um den Donbass ging?", "rcue_rhetorical"),
    ("ru", "Янукович сам сбежал, Рада проголосовала за отстранение. Какой переворот?", "rcue_dismissal"),
    ("uk", "Янукович сам утік, Рада проголосувала. Який ще переворот", "rcue_dismissal"),
    ("en", "Putin rewrote the constitution to rule till 2036. Who's illegitimate again", "rcue_dismissal"),
    ("de", "Janukowytsch ist geflohen, das Parlament hat ihn abgesetzt. Ein Putsch sieht anders aus.", "rcue_dismissal"),
]


@pytest.mark.parametrize("lang,text,cue", CUE_CASES, ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CUE_CASES)])
def test_refutation_cues_fire(lang, text, cue):
    assert cues(text)[cue] >= 1


PLAIN = [
    # (language, plain assertion) - no refutation cue may fire on these
    ("en", "NATO provoked Russia into this war by expanding east."),
    ("en", "The Bucha massacre was staged by Ukraine."),
    ("ru", "Украина разрабатывала биологическое оружие в американских лабораториях."),
    ("uk", "Захід винен у цій війні, бо розширював НАТО."),
    ("de", "Die NATO hat Russland zu diesem Krieg provoziert."),
]


@pytest.mark.parametrize("lang,text", PLAIN, ids=[f"{c[0]}-{i}" for i, c in enumerate(PLAIN)])
def test_plain_assertions_carry_no_refutation_cue(lang, text):
    assert not any(cues(text).values()), cues(text)


@pytest.mark.parametrize("text,quoted,fires", [
    ("> NATO provoked Russia\nNo, Russia chose to invade, nobody forced it.", False, True),
    ("They say \"NATO provoked Russia\" but Russia chose to invade on its own.", False, True),
    ("No, Russia chose to invade, nobody forced it.", True, True),  # the > quote was cut before the cues ran
    ("NATO provoked Russia into this war.", False, False),
])
def test_quote_then_rebuttal(text, quoted, fires):
    assert bool(cues(text, quoted)["rcue_quote_rebuttal"] == 1.0) is fires


# ------------------------------------------------------------------ loading


def _model(cut: float = 0.8, promote: dict | None = None) -> StanceCalibrator:
    n = len(CALIBRATOR_FEATURES)
    coef = np.zeros(n)
    coef[CALIBRATOR_FEATURES.index("rcue_sarcastic_open")] = 3.0
    return StanceCalibrator(np.zeros(n), np.ones(n), coef, -1.0, cut, promote=promote)


def test_round_trip_and_probability(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(_model(promote={"max_refute": 0.1, "min_verified": 0.9, "min_assert": 0.8}).to_json()))
    m = load_calibrator(path, strict=True)
    assert m.cut == 0.8 and m.promote == {"max_refute": 0.1, "min_verified": 0.9, "min_assert": 0.8}
    sarcastic = m.probability({}, "Sure, and the bodies placed themselves")
    plain = m.probability({}, "The bodies were placed there by Ukrainian soldiers.")
    assert sarcastic == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert plain == 0.0  # no rebuttal wording: the model alone never drops a review
    assert m.raw_probability({}, "The bodies were placed there by Ukrainian soldiers.") == pytest.approx(1 / (1 + np.exp(1.0)))


WORDING = [
    # (text, counts as rebuttal wording)
    ("Sure, and the bodies placed themselves", True),
    ("by that logic Finland joining NATO should have been a casus belli too", True),
    ("Yanukovych fled, parliament voted him out. What coup?", True),
    ("That story is a myth pushed by Russian state TV.", True),
    ("Die Mär vom Nazi-Regime in Kiew glaubt doch niemand.", True),
    ("> Zelensky is illegitimate\nHis term is extended by martial law, as the constitution says.", True),
    # negation-heavy assertions the stance model may misread as refutations: never dropped on the model alone
    ("Zelensky has no mandate any more, his term ran out and there were no elections.", False),
    ("Никаких перемирий, они опять накачают ВСУ оружием.", False),
    ("Die NATO hat Russland zu diesem Krieg provoziert.", False),
]


@pytest.mark.parametrize("text,wording", WORDING)
def test_a_review_is_dropped_only_with_rebuttal_wording(text, wording):
    n = len(CALIBRATOR_FEATURES)
    always = StanceCalibrator(np.zeros(n), np.ones(n), np.zeros(n), 30.0, 0.8)  # the model alone says "refute"
    named = {f"cue_{name}": float(v) for (name, _), v in zip(CUES, cue_features(text))}  # as the detector names them
    assert always.raw_probability(named, text) > 0.99
    assert (always.probability(named, text) > 0.99) is wording


REBUTTALS = [
    "Sure, and the bodies placed themselves.",
    "by that logic Finland joining NATO should have been a casus belli too",
    "Yanukovych fled and parliament voted him out, even his own party. What coup?",
    "Янукович сам сбежал, Рада проголосовала за отстранение. Какой переворот?",
    "Nach dieser Logik hätte auch Finnland ein Kriegsgrund sein müssen.",
]


@pytest.mark.parametrize("text", REBUTTALS)
def test_the_shipped_calibrator_reads_rebuttals_as_more_likely_refutations(text):
    """Same detector signals (an ambiguous stance), only the wording differs: the rebuttal must score higher."""
    if not CALIBRATOR_PATH.exists():
        pytest.skip("no calibrator shipped")
    m = load_calibrator(strict=True)
    assert 0.5 <= m.cut <= 1.0
    named = {"match": 0.7, "p_assert": 0.5, "p_refute": 0.3, "knn_assert": 0.6, "knn_refute": 0.55}
    assert m.probability(named, text) > m.probability(named, "The bodies were placed there by Ukrainian soldiers.")


def test_missing_file_means_no_calibrator(tmp_path):
    assert load_calibrator(tmp_path / "absent.json") is None
    assert load_calibrator(tmp_path / "absent.json", strict=True) is None


BROKEN = [
    ("not json", "{not json"),
    ("missing field", json.dumps({k: v for k, v in _model().to_json().items() if k != "coef"})),
    ("other features", json.dumps({**_model().to_json(), "features": ["match"]})),
    ("short arrays", json.dumps({**_model().to_json(), "mean": [0.0]})),
    ("cut out of range", json.dumps({**_model().to_json(), "cut": 0.0})),
    ("zero scale", json.dumps({**_model().to_json(), "scale": [0.0] * len(CALIBRATOR_FEATURES)})),
    ("bad promote", json.dumps({**_model().to_json(), "promote": {"max_refute": 0.1}})),
    ("a list", "[]"),
]


@pytest.mark.parametrize("name,content", BROKEN, ids=[b[0] for b in BROKEN])
def test_an_unusable_file_is_ignored_with_a_warning_or_raises_when_strict(tmp_path, caplog, name, content):
    path = tmp_path / "c.json"
    path.write_text(content)
    with caplog.at_level(logging.WARNING, logger="bot.core.calibrator"):
        assert load_calibrator(path) is None
    assert "ignoring unusable stance calibrator" in caplog.text
    with pytest.raises(CalibratorError):
        load_calibrator(path, strict=True)


def test_calibrator_row_order_matches_features():
    row = calibrator_row({"match": 0.7}, "text")
    assert row.shape == (len(CALIBRATOR_FEATURES),) and row[CALIBRATOR_FEATURES.index("match")] == 0.7
    assert "log_chars" not in CALIBRATOR_FEATURES  # message length is a data artefact, not a refutation cue


# ------------------------------------------------------------------ policy


def probs(**kw: float) -> dict[Stance, float]:
    base = {A: 0.0, R: 0.0, P: 0.0, Q: 0.0, O: 0.0}
    base.update({Stance(k): v for k, v in kw.items()})
    base[O] += max(0.0, 1.0 - sum(base.values()))
    return base


class _Cut:
    reply, review = 0.99, 0.40


PROMOTE = {"max_refute": 0.10, "min_verified": 0.80, "min_assert": 0.60}
REVIEW = dict(match=0.80, probs=probs(**{"assert": 0.65, "refute": 0.2}), nearest_stance=A, verified=0.90)

POLICY_CASES = [
    # (name, evidence, action without calibrator, action with it)
    ("review at the cut is dropped", Evidence(**REVIEW, p_refute=0.80, refute_cut=0.80), Action.REVIEW, Action.NONE),
    ("review above the cut is dropped", Evidence(**REVIEW, p_refute=0.97, refute_cut=0.80), Action.REVIEW, Action.NONE),
    ("review below the cut stays", Evidence(**REVIEW, p_refute=0.79, refute_cut=0.80), Action.REVIEW, Action.REVIEW),
    ("no calibrator: nothing changes", Evidence(**REVIEW, p_refute=None, refute_cut=None), Action.REVIEW, Action.REVIEW),
    ("moderators confirmed: review stays", Evidence(**REVIEW, p_refute=0.99, refute_cut=0.8, verdict=True),
     Action.REVIEW, Action.REVIEW),
    ("none never becomes a reply or a review", Evidence(0.80, probs(**{"assert": 0.7}), A, verified=0.2, p_refute=0.0,
     refute_cut=0.8, promote=PROMOTE), Action.NONE, Action.NONE),
    ("none stays none when refuted", Evidence(0.80, probs(**{"refute": 0.9, "assert": 0.05}), A, verified=0.1,
     p_refute=0.99, refute_cut=0.8, promote=PROMOTE), Action.NONE, Action.NONE),
    ("a reply is left alone", Evidence(0.80, probs(**{"assert": 0.95}), A, verified=0.995, p_refute=0.0, refute_cut=0.8,
     promote=PROMOTE), Action.REPLY, Action.REPLY),
    ("low P(refute) promotes an eligible review", Evidence(**REVIEW, p_refute=0.05, refute_cut=0.8, promote=PROMOTE),
     Action.REVIEW, Action.REPLY),
    ("promotion needs low P(refute)", Evidence(**REVIEW, p_refute=0.11, refute_cut=0.8, promote=PROMOTE),
     Action.REVIEW, Action.REVIEW),
    ("promotion needs the verifier bound", Evidence(**{**REVIEW, "verified": 0.79}, p_refute=0.0, refute_cut=0.8,
     promote=PROMOTE), Action.REVIEW, Action.REVIEW),
    ("promotion needs the assert bound", Evidence(**{**REVIEW, "probs": probs(**{"assert": 0.55})}, p_refute=0.0,
     refute_cut=0.8, promote=PROMOTE), Action.REVIEW, Action.REVIEW),
    ("no promotion without promote bounds", Evidence(**REVIEW, p_refute=0.0, refute_cut=0.8), Action.REVIEW,
     Action.REVIEW),
    ("no promotion past a refuting nearest exemplar", Evidence(**{**REVIEW, "nearest_stance": R}, p_refute=0.0,
     refute_cut=0.8, promote=PROMOTE), Action.REVIEW, Action.REVIEW),
    ("no promotion on a weak match", Evidence(**{**REVIEW, "match": 0.55}, p_refute=0.0, refute_cut=0.8,
     promote=PROMOTE), Action.REVIEW, Action.REVIEW),
    ("no promotion of a non-assert stance", Evidence(**{**REVIEW, "probs": probs(**{"refute": 0.5, "assert": 0.45})},
     p_refute=0.0, refute_cut=0.8, promote={**PROMOTE, "min_assert": 0.4}), Action.REVIEW, Action.REVIEW),
    ("no promotion on a review-only point", Evidence(**REVIEW, p_refute=0.0, refute_cut=0.8, promote=PROMOTE,
     review_only=True), Action.REVIEW, Action.REVIEW),
    ("no promotion past an admin reply threshold", Evidence(**REVIEW, p_refute=0.0, refute_cut=0.8, promote=PROMOTE,
     reply_threshold=0.95), Action.REVIEW, Action.REVIEW),
    ("no promotion of a quote or contrary context", Evidence(**REVIEW, p_refute=0.0, refute_cut=0.8, promote=PROMOTE,
     no_reply="the message only quotes someone"), Action.REVIEW, Action.REVIEW),
]


@pytest.mark.parametrize("name,evidence,before,after", POLICY_CASES, ids=[c[0] for c in POLICY_CASES])
def test_policy_with_the_calibrator(name, evidence, before, after):
    plain = Evidence(**{**evidence.__dict__, "p_refute": None, "refute_cut": None, "promote": None})
    assert decide(plain, T, _Cut()).action is before
    v = decide(evidence, T, _Cut())
    assert v.action is after
    assert v.is_incident is (after is not Action.NONE)
    if before is Action.REVIEW and after is Action.NONE:
        assert "refutation probability" in v.reason


def test_the_calibrator_never_adds_a_card_or_review_where_the_policy_had_none():
    """Sweep: whatever P(refute) and bounds, an uncalibrated none stays none and a non-review never becomes a reply."""
    rng = np.random.default_rng(13)
    for _ in range(3000):
        a = float(rng.uniform(0, 1))
        r = float(rng.uniform(0, 1 - a))
        e = Evidence(float(rng.uniform(0.3, 1)), probs(**{"assert": a, "refute": r}),
                     [A, R, P, None][int(rng.integers(4))], verified=float(rng.uniform(0, 1)),
                     p_refute=float(rng.uniform(0, 1)), refute_cut=float(rng.uniform(0.5, 1)),
                     promote={"max_refute": float(rng.uniform(0, 0.5)), "min_verified": float(rng.uniform(0, 1)),
                              "min_assert": float(rng.uniform(0, 1))})
        plain = decide(Evidence(**{**e.__dict__, "p_refute": None, "refute_cut": None, "promote": None}), T, _Cut())
        calibrated = decide(e, T, _Cut())
        if plain.action is not Action.REVIEW:
            assert calibrated.action is plain.action
        if calibrated.action is Action.REPLY and plain.action is Action.REVIEW:
            assert e.p_refute <= e.promote["max_refute"] and max(e.probs, key=e.probs.get) is A


# ------------------------------------------------------------------ training choices (bench/train_stance_calibrator.py)


@pytest.fixture(scope="module")
def trainer():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import train_stance_calibrator

    return train_stance_calibrator


@pytest.mark.parametrize("p_asserts,max_loss,cut", [
    ([0.1] * 50, 0.02, 0.50),  # no assertion near a high P(refute): the lowest cut allowed
    ([0.1] * 48 + [0.75, 0.95], 0.02, 0.76),  # one of 50 may go (2 %): the cut passes the 0.75, keeps the 0.95
    ([0.1] * 48 + [0.75, 0.95], 0.04, 0.50),
    ([0.999] * 10, 0.02, 0.99),  # nothing separates them: the highest cut
])
def test_the_cut_is_the_lowest_that_loses_at_most_the_allowed_assertions(trainer, p_asserts, max_loss, cut):
    p = np.array(p_asserts + [0.9, 0.99])  # two refutations in review, never counted against the cut
    review_assert = np.array([True] * len(p_asserts) + [False, False])
    assert trainer.choose_cut(p, review_assert, max_loss) == pytest.approx(cut)


def test_promote_bounds_promote_no_wrong_row_and_need_enough_rows(trainer):
    n = 12
    p = np.array([0.01] * n + [0.01, 0.30])  # the two wrong rows: one with a low P(refute), one not
    verified = np.array([0.97] * n + [0.90, 0.99])
    p_assert = np.array([0.80] * n + [0.80, 0.80])
    eligible = np.ones(n + 2, dtype=bool)
    correct = np.array([True] * n + [False, False])
    bounds, n_best = trainer.choose_promote(p, verified, p_assert, eligible, correct)
    assert n_best == n
    sel = (p <= bounds["max_refute"]) & (verified >= bounds["min_verified"]) & (p_assert >= bounds["min_assert"])
    assert not (sel & ~correct).any()
    few, _ = trainer.choose_promote(p[:3], verified[:3], p_assert[:3], eligible[:3], correct[:3])
    assert few is None  # fewer than MIN_PROMOTED: not worth the risk
