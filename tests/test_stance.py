"""The stance model's own n-gram transform must equal scikit-learn's TfidfVectorizer exactly."""

from __future__ import annotations

import numpy as np
import pytest

from bot.core.stance import StanceModel, char_wb_ngrams

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


# Reported speech is attribution in every language; the same words in the author's own voice, in a concession
# before the author's own claim, or as "speaks Russian" are not.
@pytest.mark.parametrize("text, attributed", [
    ("this reddit post is saying the Pentagon runs 46 biolabs in Ukraine", True),
    ("they keep saying NATO provoked the war", True),
    ("They're saying Bucha was staged", True),
    ("people say the sanctions backfired", True),
    ("the channel is claiming Kyiv shelled its own city", True),
    ("Kyiv supposedly sold the weapons on the black market", True),
    ("I'm not saying nobody died, but Bucha was arranged", False),
    ("Bucha was staged, just saying", False),
    ("В каналах говорят, что Буча — постановка", True),
    ("пишут, что НАТО обещало не расширяться", True),
    ("мол, Запад ведёт прокси-войну", True),
    ("Путин на Валдае повторил, что Горбачёву обещали", True),
    ("в Харькове говорят по-русски", False),
    ("что бы ни говорили, санкции бьют по Европе", False),
    ("Кажуть, що Буча — постановка", True),
    ("у телеграмі пишуть, що Захід веде проксі-війну", True),
    ("мовляв, санкції б'ють по Європі", True),
    ("хай що кажуть, але санкції б'ють по Європі", False),
    ("вони говорять українською", False),
    ("Sie sagen, die NATO habe Russland provoziert", True),
    ("Im Staatsfernsehen heißt es, Butscha sei inszeniert", True),
    ("Medwedew schreibt auf Telegram, der Westen rüste Kiew auf", True),
    ("Das darf man ja nicht sagen: die NATO hat provoziert", False),
])
def test_attribution_cue_reads_reported_speech(text, attributed):
    from bot.core.normalize import normalize
    from bot.core.stance import CUES, cue_features

    i = [name for name, _ in CUES].index("attribution")
    assert bool(cue_features(normalize(text).text)[i] > 0) is attributed


# Debunking words count as whole words (and as the stems of compounds), never as fragments of other words.
@pytest.mark.parametrize("text, debunk", [
    ("the Pentagon runs biolabs in Ukraine", False),
    ("the allies keep sending supplies and bombs", False),
    ("Путин предложил отложить переговоры, положение сложное", False),
    ("Die Flüge nach Kiew sind gestrichen", False),
    ("that's a lie, the labs are public health labs", True),
    ("this is bs", True),
    ("a deepfake video of Zelensky", True),
    ("это ложь и пропаганда", True),
    ("лжи про биолаборатории", True),
    ("міф про біолабораторії", True),
    ("Das ist ein Propagandamärchen", True),
    ("die alte Kriegslüge", True),
])
def test_debunk_cue_reads_whole_words(text, debunk):
    from bot.core.normalize import normalize
    from bot.core.stance import CUES, cue_features

    i = [name for name, _ in CUES].index("debunk")
    assert bool(cue_features(normalize(text).text)[i] > 0) is debunk
