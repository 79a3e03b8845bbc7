"""Stance model: assert / refute / report / ask / other for a (message, talking point) pair.

Features per pair:
- the message embedding (multilingual, so cues like "claims", "заявил", "behauptet" live in it),
- nearest-exemplar evidence: the highest cosine between the message and the talking point's exemplars of
  each stance, and the cosine to the claim,
- cue features: hand-written, language-aware regexes for negation, debunking words, attribution, questions,
  quotes and sarcasm markers.

A multinomial logistic regression (scikit-learn, lbfgs, fixed order => deterministic) is trained at start-up
from the pack exemplars plus the generic training set in ``bot/data/stance_train.jsonl`` (other topics, so the
model learns stance rather than topic). Inference is plain numpy on the stored coefficients.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from .models import Stance

STANCES: tuple[Stance, ...] = (Stance.ASSERT, Stance.REFUTE, Stance.REPORT, Stance.ASK, Stance.OTHER)
STANCE_INDEX = {s: i for i, s in enumerate(STANCES)}

_F = re.IGNORECASE | re.UNICODE

# Words that call a claim false. The trained models read them anywhere, as they were trained ("allies", "biolabs" and
# "предложил" count too: a known flaw, fixed only with a retrain); rules read them at the start of a word
# (DEBUNK_WORD).
DEBUNK = (r"(fake|hoax|myth|debunk\w*|propaganda|disinfo\w*|misinfo\w*|lie[sd]?\b|lying|nonsense|bs\b|"
          r"conspiracy|false\b|bullshit|фейк\w*|миф\w*|міф\w*|ложь|лож\w+|брехн\w*|бреш\w*|вран\w*|"
          r"пропаганд\w*|чушь|бред\w*|дезинф\w*|конспиролог\w*|нісенітн\w*|"
          r"lüge\w*|unsinn|quatsch|propaganda|verschwörung\w*|falsch\w*|märchen|widerlegt)")
DEBUNK_WORD = re.compile(r"\b" + DEBUNK, _F)

CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, _F))
    for name, pattern in (
        ("negation", r"\b(not|no|never|isn'?t|wasn'?t|aren'?t|don'?t|doesn'?t|didn'?t|nothing|нет|не|ни|никак\w*|"
                     r"ніхто|ні|жодн\w*|nicht|kein\w*|nie|niemals)\b"),
        ("debunk", DEBUNK),
        ("attribution", r"\b(said|says|claim(s|ed)?|according to|stated|alleg\w+|insist\w*|repeat\w*|told|tweeted|"
                        r"pushing|narrative|spokes\w+|ministry|state tv|rt\b|tass|lavrov|peskov|zakharova|putin|kremlin|"
                        r"заяв\w+|утвержда\w+|сказал\w*|по словам|якобы|стверджу\w+|сказав\w*|за словами|нібито|"
                        r"буцімто|мид|кремл\w*|песков\w*|лавров\w*|захаров\w*|"
                        r"sagte|sagt|behaupt\w+|laut|erklärt\w*|angeblich|kreml\w*)\b"),
        ("question", r"\?\s*$|^\s*(is it true|is that true|did|does|do|was|were|is|are|can|could|why|how|what|"
                     r"правда ли|правда что|это правда|неужели|разве|почему|как|чи правда|чи|невже|хіба|чому|"
                     r"stimmt es|ist es wahr|ist das wahr|stimmt das|warum|wieso|ob)\b"),
        ("quote", r"[\"“”«»„]|^\s*>"),
        # "sure," stands outside the word-bounded group: a comma ends no word, so "\bsure,\b" never matched "sure, ..."
        ("sarcasm", r"\bsure,|\b(ah yes|oh sure|yeah right|of course|as always|totally|by that logic|"
                    r"and i suppose|and next you'?ll|ну да|ага|конечно же|ну конечно|по этой логике|"
                    r"следуя этой логике|ну звісно|авжеж|за цією логікою|за такою логікою|ja klar|na klar|natürlich|"
                    r"nach dieser logik|mit der logik)\b|🙄|🤡|/s\b"
                    # a laugh that opens a message mocks what it answers ("lol the 'illegitimate' line again"); a
                    # trailing one is only tone ("... it's all staged lol"), as often under an assertion as not
                    r"|^\W*(lol|lmao|rofl)\b"),
        ("first_person", r"\b(i think|i believe|imo|imho|i'm sure|honestly|я думаю|я считаю|по-моему|я вважаю|"
                         r"на мою думку|ich glaube|ich denke|meiner meinung)\b"),
        ("truth_claim", r"\b(truth|fact|obviously|clearly|everyone knows|wake up|admit\w*|proof|proven|"
                        r"правда|факт|очевидно|все знают|доказ\w*|признал\w*|визнав\w*|очевидно|"
                        r"wahrheit|fakt|offensichtlich|beweis\w*|zugegeben)\b"),
    )
)
N_CUES = len(CUES)
N_KNN = len(STANCES) + 1  # best cosine per stance + cosine to the claim


def cue_features(text: str) -> np.ndarray:
    """Counts (capped at 3) of each cue family in ``text`` (original casing is fine: patterns ignore case)."""
    out = np.zeros(N_CUES, dtype=np.float32)
    sample = text[:2000]
    for i, (_, pat) in enumerate(CUES):
        n = 0
        for _ in pat.finditer(sample):
            n += 1
            if n >= 3:
                break
        out[i] = n
    return out


def knn_features(q: np.ndarray, ex_emb: np.ndarray, ex_stance: np.ndarray, claim_emb: np.ndarray) -> np.ndarray:
    """Best cosine between ``q`` and the exemplars of each stance (0 if none), then cosine to the claim."""
    by_stance = [np.flatnonzero(ex_stance == i) for i in range(len(STANCES))]
    return knn_from_sims(np.asarray(ex_emb) @ q, by_stance, float(claim_emb @ q))


def knn_from_sims(sims: np.ndarray, by_stance: Sequence[np.ndarray], claim_sim: float) -> np.ndarray:
    """:func:`knn_features` from cosines already computed (the detector has them from retrieval): ``sims`` over
    exemplars, ``by_stance[i]`` the indices in ``sims`` of the talking point's exemplars of stance i."""
    out = np.zeros(N_KNN, dtype=np.float32)
    for i, ix in enumerate(by_stance):
        if len(ix):
            out[i] = float(sims[ix].max())
    out[-1] = claim_sim
    return out


def build_features(q_emb: np.ndarray, knn: np.ndarray, cues: np.ndarray) -> np.ndarray:
    return np.concatenate([q_emb.astype(np.float32), knn, cues]).astype(np.float32)


NGRAMS = dict(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, max_features=60000, dtype=np.float32)
DENSE_WEIGHT = 0.05  # standardised dense features are scaled down next to the (unit-norm) n-gram vector
C_DEFAULT = 4.0
WORD_CACHE_SIZE = 50_000


_MULTI_SPACE = re.compile(r"\s\s+")


def char_wb_ngrams(text: str, lo: int = 2, hi: int = 5) -> list[str]:
    """Character n-grams inside word boundaries (padded with spaces), as scikit-learn's "char_wb" analyzer
    produces them after lower-casing."""
    out: list[str] = []
    for w in _MULTI_SPACE.sub(" ", text.lower()).split():
        w = f" {w} "
        size = len(w)
        for n in range(lo, hi + 1):
            if size <= n:
                out.append(w)
                break
            out.extend(w[i:i + n] for i in range(size - n + 1))
    return out


def _vectorizer():
    from sklearn.feature_extraction.text import TfidfVectorizer  # training only

    return TfidfVectorizer(**NGRAMS)


class StanceModel:
    """Multinomial logistic regression over character n-grams of the normalised message (TF-IDF, which carry
    stance cues in every language: "didn't", "не было", "нібито", "angeblich", "myth", "?") plus the
    standardised dense features (embedding, nearest-exemplar evidence, cue counts). Stored as plain arrays.
    """

    def __init__(self, vocab_terms: np.ndarray, idf: np.ndarray, mean: np.ndarray, scale: np.ndarray,
                 coef: np.ndarray, intercept: np.ndarray) -> None:
        self.vocab_terms = vocab_terms
        self.idf = idf.astype(np.float32)
        self.mean = mean.astype(np.float32)
        self.scale = scale.astype(np.float32)
        self.coef = coef.astype(np.float32)  # (n_classes, n_ngrams + n_dense)
        self.intercept = intercept.astype(np.float32)
        self._n_sparse = len(vocab_terms)
        self._w_sparse = np.ascontiguousarray(self.coef[:, : self._n_sparse].T)  # (n_ngrams, n_classes)
        self._w_dense = np.ascontiguousarray(self.coef[:, self._n_sparse:].T) * DENSE_WEIGHT
        self._index = {str(t): i for i, t in enumerate(vocab_terms)}
        self._word_cache: dict[str, np.ndarray] = {}  # filled from worker threads; dict ops are atomic

    def _word_indices(self, word: str) -> np.ndarray:
        """Vocabulary indices of the n-grams of one (lower-cased) word; memoised, as chat words repeat a lot."""
        hit = self._word_cache.get(word)
        if hit is None:
            index = self._index
            hit = np.array([i for g in char_wb_ngrams(word) if (i := index.get(g)) is not None], dtype=np.int64)
            if len(self._word_cache) >= WORD_CACHE_SIZE:
                self._word_cache.clear()
            self._word_cache[word] = hit
        return hit

    def ngram_vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The TF-IDF vector of ``text`` as (indices, values): sublinear tf, idf, L2 norm, exactly as
        scikit-learn's TfidfVectorizer(analyzer="char_wb") computes it, without its per-call overhead.
        (char_wb n-grams never cross a word boundary, so they are computed per distinct word.)"""
        parts = [self._word_indices(w) for w in text.lower().split()]
        hits = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        if not len(hits):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        hits.sort()  # unique indices and their counts (np.unique does the same, with more overhead)
        first = np.flatnonzero(np.r_[True, hits[1:] != hits[:-1]])
        idx, tf = hits[first], np.diff(np.r_[first, len(hits)])
        vals = (1.0 + np.log(tf.astype(np.float32))) * self.idf[idx]
        vals /= np.linalg.norm(vals)
        return idx, vals

    def predict_proba(self, dense: np.ndarray, texts: Sequence[str] | str) -> np.ndarray:
        single = isinstance(texts, str)
        dense = dense[None, :] if dense.ndim == 1 else dense
        batch = [texts] if single else list(texts)
        sparse_logits = np.zeros((len(batch), self.coef.shape[0]), dtype=np.float32)
        for row, text in enumerate(batch):
            idx, vals = self.ngram_vector(text)
            if len(idx):
                sparse_logits[row] = vals @ self._w_sparse[idx]
        z = (dense - self.mean) / self.scale
        logits = sparse_logits + z @ self._w_dense + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        return p[0] if single else p

    @classmethod
    def fit(cls, dense: np.ndarray, texts: Sequence[str], y: Sequence[int], *, c: float = C_DEFAULT,
            seed: int = 0) -> "StanceModel":
        from scipy.sparse import csr_matrix, hstack
        from sklearn.linear_model import LogisticRegression  # training only

        dense = np.asarray(dense, dtype=np.float64)
        y = np.asarray(y)
        vec = _vectorizer()
        sparse = vec.fit_transform(list(texts))
        mean = dense.mean(axis=0)
        scale = dense.std(axis=0)
        scale[scale < 1e-6] = 1.0
        z = (dense - mean) / scale * DENSE_WEIGHT
        x = hstack([sparse, csr_matrix(z)]).tocsr()
        clf = LogisticRegression(C=c, max_iter=5000, class_weight="balanced", random_state=seed)
        clf.fit(x, y)
        coef = np.zeros((len(STANCES), x.shape[1]))
        intercept = np.full(len(STANCES), -1e4)  # classes absent from training get ~0 probability
        for row, label in enumerate(clf.classes_):
            coef[label] = clf.coef_[row] if len(clf.classes_) > 2 else (clf.coef_[0] if row else -clf.coef_[0])
            intercept[label] = clf.intercept_[row] if len(clf.classes_) > 2 else (
                clf.intercept_[0] if row else -clf.intercept_[0])
        terms = np.empty(len(vec.vocabulary_), dtype=object)
        for term, i in vec.vocabulary_.items():
            terms[i] = term
        return cls(terms.astype(str), vec.idf_, mean, scale, coef, intercept)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"vocab_terms": self.vocab_terms, "idf": self.idf, "mean": self.mean, "scale": self.scale,
                "coef": self.coef, "intercept": self.intercept}

    @classmethod
    def from_arrays(cls, d) -> "StanceModel":
        return cls(d["vocab_terms"], d["idf"], d["mean"], d["scale"], d["coef"], d["intercept"])
