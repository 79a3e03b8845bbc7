"""The stance model's own n-gram transform must equal scikit-learn's TfidfVectorizer exactly."""

from __future__ import annotations

import numpy as np
import pytest

from bot.core.stance import CUES, StanceModel, char_wb_ngrams, cue_features

TEXTS = [
    "NATO didn't provoke anything, that's a myth!",
    "Буча — це   постановка?? ні, не постановка",
    "Die Sanktionen schaden Europa mehr als Russland",
    "a ab abc abcd abcde",
    "x",
    "",
    "😂😂 lol",
    "Не было никакого «ни дюйма на восток», это миф",
]


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    train = TEXTS * 3 + ["NATO expansion forced Russia", "нато вынудило россию", "no, it did not"] * 2
    y = [i % 3 for i in range(len(train))]
    dense = rng.normal(size=(len(train), 4)).astype(np.float32)
    return StanceModel.fit(dense, train, y)


@pytest.mark.parametrize("text", TEXTS + ["completely unseen words here", "NATO NATO NATO nato"])
def test_ngram_vector_matches_sklearn(fitted, text):
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                          vocabulary={str(t): i for i, t in enumerate(fitted.vocab_terms)})
    vec.idf_ = fitted.idf
    expected = vec.transform([text]).toarray()[0]
    idx, vals = fitted.ngram_vector(text)
    got = np.zeros_like(expected)
    got[idx] = vals
    assert np.allclose(got, expected, atol=1e-5)


def test_char_wb_ngrams_match_sklearn_analyzer():
    from sklearn.feature_extraction.text import TfidfVectorizer

    analyzer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()
    for text in TEXTS:
        assert char_wb_ngrams(text) == analyzer(text)


def test_model_round_trips_through_arrays(fitted):
    again = StanceModel.from_arrays(fitted.to_arrays())
    dense = np.ones(4, dtype=np.float32)
    assert np.allclose(again.predict_proba(dense, TEXTS[0]), fitted.predict_proba(dense, TEXTS[0]))
    assert abs(float(fitted.predict_proba(dense, TEXTS[1]).sum()) - 1) < 1e-5


@pytest.mark.parametrize("seed", range(5))
def test_nearest_exemplar_features_from_embeddings_or_precomputed_cosines(seed):
    from bot.core.stance import STANCES, knn_features, knn_from_sims

    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(40, 8)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    stance = rng.integers(0, len(STANCES) - 1, size=40).astype(np.int32)  # some stances may be absent
    mine = np.sort(rng.choice(40, size=int(rng.integers(0, 12)), replace=False))  # this point's exemplars
    q, claim = emb[0], emb[1]
    expected = np.zeros(len(STANCES) + 1, dtype=np.float32)  # by hand: best cosine per stance, 0 if none
    for s in range(len(STANCES)):
        cos = [float(emb[j] @ q) for j in mine if stance[j] == s]
        expected[s] = max(cos) if cos else 0.0
    expected[-1] = float(claim @ q)
    np.testing.assert_allclose(knn_features(q, emb[mine], stance[mine], claim), expected, atol=1e-6)
    by_stance = [mine[stance[mine] == s] for s in range(len(STANCES))]
    np.testing.assert_allclose(knn_from_sims(emb @ q, by_stance, float(claim @ q)), expected, atol=1e-6)


SARCASM = [name for name, _ in CUES].index("sarcasm")


@pytest.mark.parametrize("text,sarcastic", [
    ("lol the 'Zelensky is illegitimate' line again", True),  # a laugh that opens a reply mocks what it answers
    ("LMAO imagine believing the biolab story", True),
    ("  lol, the bodies placed themselves", True),
    ("Bucha was staged lol", False),  # a trailing laugh is tone: assertions carry it as often as rebuttals
    ("sanctions backfired spectacularly lmao", False),
    ("oh sure, NATO made them do it", True),
    ("sure, NATO made them do it", True),  # a comma ends no word: "sure," outside the word-bounded group
    ("Bucha was staged, sure, and the moon landing too", True),
    ("I am sure NATO provoked it", False),
    ("it's all a 🤡 show", True),
])
def test_only_an_opening_laugh_reads_as_sarcasm(text, sarcastic):
    assert bool(cue_features(text)[SARCASM] > 0) is sarcastic
