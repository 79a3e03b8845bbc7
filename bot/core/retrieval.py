"""Hybrid lexical + semantic retrieval over groups of documents.

A *key* (a talking point, or a fact-checked claim in the CLEF benchmark) owns several documents (claim,
exemplars, titles). Its semantic score is the best cosine between the query and any of its documents; its
lexical score is BM25 of the query against all its documents merged. The two are fused with fixed weights
after squashing BM25 into 0-1, so the fused score can be compared with absolute thresholds.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from .normalize import tokens

# Words too common to say anything about a topic (seed list; callers may add more).
STOPWORDS = frozenset(
    """the a an and or but of to in on at for with from by is are was were be been it this that these those as
    not no yes so if then than they them their he she we you i me my your our his her its who what when where
    why how all any some more most just very also only about into over after before again there here have has
    had do does did can could will would should may might must shall out up down now new one two like get got
    и в во не на что это как с со по но за из к у же от для а то бы ли да нет он она они мы вы я его ее их
    так вот все уже еще тоже только когда там тут этот эта эти был была были быть есть нас вас им ему
    і в у на що це як з із до за від для а та але не ні то би чи так вже ще теж тільки коли там тут цей
    ця ці був була були бути є нас вас їх його її він вона вони ми ви я
    der die das und ist nicht ein eine einen dem den des zu mit von auf für im in es sie er wir ihr ich du
    so wie aber oder auch noch nur schon wenn dann als bei aus nach vor über war sind hat haben wird""".split()
)

# Ranking a large collection (no absolute threshold needed): BM25 divided by the query's best BM25 score, plus the
# best cosine. The weight was chosen on the CLEF-2021 test ("Dev-Test") split only; see bench/clef.py.
RANK_LEXICAL_WEIGHT = 1.0

SEMANTIC_WEIGHT = 0.85
LEXICAL_WEIGHT = 0.25
LEXICAL_HALF = 8.0  # BM25 score that squashes to 0.5


STEM_CHARS = 6


def stem(token: str) -> str:
    """Crude multilingual stem: a fixed prefix. Good enough for inflected ru/uk/de/en keywords."""
    return token[:STEM_CHARS] if len(token) > STEM_CHARS else token


def content_tokens(normalized_text: str, stop: frozenset[str] = STOPWORDS) -> list[str]:
    """The content words of an already normalised text, as written: at least three letters, no stopword, no number."""
    return [t for t in tokens(normalized_text) if len(t) >= 3 and t not in stop and not t.isdigit()]


def stems(normalized_text: str, stop: frozenset[str] = STOPWORDS) -> list[str]:
    """Content stems of an already normalised text."""
    return [stem(t) for t in content_tokens(normalized_text, stop)]


class Bm25:
    """Okapi BM25 with an inverted index (fast for short queries over many documents)."""

    def __init__(self, docs: Sequence[Counter], k1: float = 1.2, b: float = 0.75) -> None:
        self.n = len(docs)
        lengths = np.array([sum(d.values()) for d in docs], dtype=np.float64)
        avg = float(lengths.mean()) if self.n and lengths.mean() > 0 else 1.0
        norm = k1 * (1 - b + b * lengths / avg)
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for i, d in enumerate(docs):
            for t, tf in d.items():
                postings[t].append((i, tf * (k1 + 1) / (tf + norm[i])))
        self.postings = {}
        for t, plist in postings.items():
            idf = math.log(1 + (self.n - len(plist) + 0.5) / (len(plist) + 0.5))
            ids = np.fromiter((p[0] for p in plist), dtype=np.int64, count=len(plist))
            weights = np.fromiter((p[1] for p in plist), dtype=np.float64, count=len(plist)) * idf
            self.postings[t] = (ids, weights)

    def scores(self, query: Iterable[str]) -> np.ndarray:
        out = np.zeros(self.n)
        for t in set(query):
            hit = self.postings.get(t)
            if hit is not None:
                np.add.at(out, hit[0], hit[1])
        return out

    def __contains__(self, term: str) -> bool:
        return term in self.postings


@dataclass(frozen=True)
class Scores:
    semantic: np.ndarray  # per key, best cosine
    lexical: np.ndarray  # per key, squashed BM25 (0-1)
    fused: np.ndarray  # per key, 0-1
    doc_sims: np.ndarray  # per document, cosine
    bm25: np.ndarray  # per key, raw BM25


class HybridIndex:
    """Keys with several documents each; embeddings supplied by the caller (already L2-normalised)."""

    def __init__(self, doc_keys: Sequence[int], doc_emb: np.ndarray, lexical_docs: Sequence[Counter], n_keys: int,
                 *, semantic_weight: float = SEMANTIC_WEIGHT, lexical_weight: float = LEXICAL_WEIGHT,
                 lexical_half: float = LEXICAL_HALF) -> None:
        self.doc_keys = np.asarray(doc_keys, dtype=np.int64)
        self.doc_emb = np.asarray(doc_emb, dtype=np.float32)
        self.n_keys = n_keys
        # documents grouped by key, so a key's best cosine is one maximum.reduceat (np.maximum.at is slow)
        self._by_key = np.argsort(self.doc_keys, kind="stable")
        sorted_keys = self.doc_keys[self._by_key]
        self._group_starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]) if len(sorted_keys) \
            else np.zeros(0, dtype=np.int64)
        self._group_keys = sorted_keys[self._group_starts]
        self.bm25 = Bm25(lexical_docs)
        self.sw, self.lw, self.half = semantic_weight, lexical_weight, lexical_half

    def score(self, q: np.ndarray, query_stems: Sequence[str]) -> Scores:
        doc_sims = self.doc_emb @ q
        sem = self.best_per_key(doc_sims)
        bm = self.bm25.scores(query_stems)
        lex = bm / (bm + self.half)
        fused = np.clip(self.sw * sem + self.lw * lex, 0.0, 1.0)
        return Scores(sem, lex, fused, doc_sims, bm)

    def best_per_key(self, doc_scores: np.ndarray) -> np.ndarray:
        """Each key's best score over its documents (-1 for a key without documents)."""
        best = np.full(self.n_keys, -1.0, dtype=np.float64)
        if len(doc_scores):
            best[self._group_keys] = np.maximum.reduceat(doc_scores[self._by_key], self._group_starts)
        return best

    def rank_scores(self, scores: Scores, lexical_weight: float = RANK_LEXICAL_WEIGHT) -> np.ndarray:
        """Scores for ranking many keys against one query (relative, not thresholdable)."""
        top = float(scores.bm25.max()) if len(scores.bm25) else 0.0
        rel = scores.bm25 / top if top > 0 else scores.bm25
        return scores.semantic + lexical_weight * rel
