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
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .models import Stance

STANCES: tuple[Stance, ...] = (Stance.ASSERT, Stance.REFUTE, Stance.REPORT, Stance.ASK, Stance.OTHER)
STANCE_INDEX = {s: i for i, s in enumerate(STANCES)}

_F = re.IGNORECASE | re.UNICODE

CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, _F))
    for name, pattern in (
        ("negation", r"\b(not|no|never|isn'?t|wasn'?t|aren'?t|don'?t|doesn'?t|didn'?t|nothing|нет|не|ни|никак\w*|"
                     r"ніхто|ні|жодн\w*|nicht|kein\w*|nie|niemals)\b"),
        ("debunk", r"(fake|hoax|myth|debunk\w*|propaganda|disinfo\w*|misinfo\w*|lie[sd]?\b|lying|nonsense|bs\b|"
                   r"conspiracy|false\b|bullshit|фейк\w*|миф\w*|міф\w*|ложь|лож\w+|брехн\w*|бреш\w*|вран\w*|"
                   r"пропаганд\w*|чушь|бред\w*|дезинф\w*|конспиролог\w*|нісенітн\w*|"
                   r"lüge\w*|unsinn|quatsch|propaganda|verschwörung\w*|falsch\w*|märchen|widerlegt)"),
        ("attribution", r"\b(said|says|claim(s|ed)?|according to|stated|alleg\w+|insist\w*|repeat\w*|told|tweeted|"
                        r"pushing|narrative|spokes\w+|ministry|state tv|rt\b|tass|lavrov|peskov|zakharova|putin|kremlin|"
                        r"заяв\w+|утвержда\w+|сказал\w*|по словам|якобы|стверджу\w+|сказав\w*|за словами|нібито|"
                        r"буцімто|мид|кремл\w*|песков\w*|лавров\w*|захаров\w*|"
                        r"sagte|sagt|behaupt\w+|laut|erklärt\w*|angeblich|kreml\w*)\b"),
        ("question", r"\?\s*$|^\s*(is it true|is that true|did|does|do|was|were|is|are|can|could|why|how|what|"
                     r"правда ли|правда что|это правда|неужели|разве|почему|как|чи правда|чи|невже|хіба|чому|"
                     r"stimmt es|ist es wahr|ist das wahr|stimmt das|warum|wieso|ob)\b"),
        ("quote", r"[\"“”«»„]|^\s*>"),
        ("sarcasm", r"\b(ah yes|oh sure|sure,|yeah right|of course|as always|lol|lmao|totally|"
                    r"ну да|ага|конечно же|ну конечно|ну звісно|авжеж|ja klar|na klar|natürlich)\b|🙄|🤡|/s\b"),
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
    out = np.zeros(N_KNN, dtype=np.float32)
    if len(ex_emb):
        sims = ex_emb @ q
        for i in range(len(STANCES)):
            mask = ex_stance == i
            if mask.any():
                out[i] = float(sims[mask].max())
    out[-1] = float(claim_emb @ q)
    return out


def build_features(q_emb: np.ndarray, knn: np.ndarray, cues: np.ndarray) -> np.ndarray:
    return np.concatenate([q_emb.astype(np.float32), knn, cues]).astype(np.float32)


@dataclass(frozen=True)
class StanceModel:
    """Standardise + multinomial logistic regression, stored as plain arrays."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (n_classes, n_features)
    intercept: np.ndarray  # (n_classes,)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        single = x.ndim == 1
        z = ((x if not single else x[None, :]) - self.mean) / self.scale
        logits = z @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        return p[0] if single else p

    @classmethod
    def fit(cls, x: np.ndarray, y: Sequence[int], *, c: float = 0.5, seed: int = 0) -> "StanceModel":
        from sklearn.linear_model import LogisticRegression  # training only

        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y)
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale < 1e-6] = 1.0
        z = (x - mean) / scale
        clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced", random_state=seed)
        clf.fit(z, y)
        coef = np.zeros((len(STANCES), x.shape[1]))
        intercept = np.full(len(STANCES), -1e4)  # classes absent from training get ~0 probability
        for row, label in enumerate(clf.classes_):
            coef[label] = clf.coef_[row] if len(clf.classes_) > 2 else (clf.coef_[0] if row else -clf.coef_[0])
            intercept[label] = clf.intercept_[row] if len(clf.classes_) > 2 else (
                clf.intercept_[0] if row else -clf.intercept_[0])
        return cls(mean.astype(np.float32), scale.astype(np.float32), coef.astype(np.float32), intercept.astype(np.float32))

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "scale": self.scale, "coef": self.coef, "intercept": self.intercept}

    @classmethod
    def from_arrays(cls, d) -> "StanceModel":
        return cls(d["mean"], d["scale"], d["coef"], d["intercept"])
