"""The claim verifier's arithmetic and its loading rules (bot/core/verifier.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bot.core.verifier import FEATURES, Verifier, centered, lead, load_verifier, signals, topic_direction


def _verifier(coef: dict[str, float], intercept: float = 0.0) -> Verifier:
    n = len(FEATURES)
    return Verifier(np.zeros(n), np.ones(n), np.array([coef.get(f, 0.0) for f in FEATURES]), intercept, 0.9, 0.5)


def _named(**over: float) -> dict[str, float]:
    return {**{f: 0.0 for f in FEATURES}, **over}


def test_probability_is_the_logistic_of_the_standardised_features():
    v = _verifier({"p_assert": 2.0, "centered_margin": 1.0}, intercept=-1.0)
    assert v.probability(_named(p_assert=1.0, centered_margin=0.5)) == pytest.approx(1 / (1 + math.exp(-1.5)))
    assert v.probability(_named(p_assert=0.2)) < v.probability(_named(p_assert=0.9))


def test_round_trip_through_json_and_a_feature_mismatch_is_refused(tmp_path):
    v = _verifier({"match": 1.0})
    path = tmp_path / "v.json"
    path.write_text(json.dumps(v.to_json()))
    back = load_verifier(path)
    assert back is not None and back.reply == 0.9 and back.review == 0.5
    assert back.probability(_named(match=0.7)) == pytest.approx(v.probability(_named(match=0.7)))
    stale = {**v.to_json(), "features": list(FEATURES[:-1])}
    with pytest.raises(ValueError, match="train_verifier"):
        Verifier.from_json(stale)


def test_missing_or_damaged_file_means_no_verifier(tmp_path):
    assert load_verifier(tmp_path / "absent.json") is None
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert load_verifier(bad) is None


def test_the_shipped_verifier_loads_and_matches_this_code():
    v = load_verifier()
    assert v is not None, "bot/data/verifier.json is missing: run bench/train_verifier.py"
    assert 0.0 < v.review < v.reply <= 1.0


def test_lead_and_centering():
    assert lead(np.array([0.7, 0.5, 0.2]), 0) == pytest.approx(0.2)
    assert lead(np.array([0.7, 0.5, 0.2]), 1) == pytest.approx(-0.2)
    docs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    direction = topic_direction(docs, ["p", "p", "q"])
    assert np.allclose(direction["p"], [0.5, 0.5]) and np.allclose(direction["q"], [1.0, 1.0])
    c = centered(np.array([1.0, 0.0]), direction["p"])
    assert np.allclose(c, [math.sqrt(0.5), -math.sqrt(0.5)])


def test_signals_are_named_in_feature_order():
    named = signals(match=0.6, semantic=0.5, lexical=0.1, claim=0.4, centered_best=0.3, centered_margin=0.05,
                    margin=0.02, knn=[0.1] * 6, probs=[0.2] * 5, cues=[1.0] * 8, chars=99, genre=-1.5)
    assert list(named) == list(FEATURES)
    assert named["log_chars"] == pytest.approx(round(math.log1p(99), 4))


def test_genre_reads_only_the_encoder_it_was_trained_on():
    v = Verifier(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), np.zeros(len(FEATURES)), 0.0, 0.9, 0.5,
                 genre_coef=np.array([1.0, -1.0], dtype=np.float32), genre_intercept=0.5, encoder="usem3")
    q = np.array([0.25, 0.75], dtype=np.float32)
    assert v.genre(q, "usem3") == pytest.approx(0.0)
    assert v.genre(q, "usem3+token-cache") == pytest.approx(0.0)  # same vectors, cached differently
    assert v.genre(np.array([1.0, 0.0], dtype=np.float32), "usem3+token-cache") == pytest.approx(1.5)
    assert v.genre(q, "minilm") == 0.0
    back = Verifier.from_json(json.loads(json.dumps(v.to_json())))
    assert back.genre(np.array([1.0, 0.0], dtype=np.float32), "usem3") == pytest.approx(1.5)


def test_review_thresholds_per_language_fall_back_to_the_default():
    n = len(FEATURES)
    v = Verifier(np.zeros(n), np.ones(n), np.zeros(n), 0.0, 0.99, 0.8, review_by_lang={"uk": 0.6, "en": 0.8})
    assert (v.thresholds("uk").reply, v.thresholds("uk").review) == (0.99, 0.6)
    assert v.thresholds("xx").review == 0.8
    back = Verifier.from_json(json.loads(json.dumps(v.to_json())))
    assert back.thresholds("uk").review == 0.6
