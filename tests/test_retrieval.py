"""Hybrid retrieval: per-key scores from documents in any order."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from bot.core.retrieval import HybridIndex


@pytest.mark.parametrize("seed", range(6))
def test_semantic_score_is_the_best_cosine_of_each_keys_documents(seed):
    rng = np.random.default_rng(seed)
    n_keys, n_docs = 12, int(rng.integers(0, 60))
    keys = rng.integers(0, n_keys, size=n_docs)  # unsorted; some keys have no document
    emb = rng.normal(size=(n_docs, 8)).astype(np.float32)
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9)
    index = HybridIndex(keys, emb if n_docs else np.zeros((0, 8), np.float32), [Counter()] * n_keys, n_keys)
    q = rng.normal(size=8).astype(np.float32)
    q /= np.linalg.norm(q)
    expected = np.full(n_keys, -1.0)
    for k, s in zip(keys, emb @ q if n_docs else []):
        expected[k] = max(expected[k], s)
    np.testing.assert_array_equal(index.score(q, []).semantic, expected.astype(np.float32).astype(np.float64))


def test_lexical_score_comes_from_the_keys_own_words():
    docs = [Counter({"nato": 3, "expan": 2}), Counter({"biolab": 3}), Counter()]
    index = HybridIndex([0, 1], np.eye(2, 4, dtype=np.float32), docs, 3)
    sc = index.score(np.array([1, 0, 0, 0], dtype=np.float32), ["biolab"])
    assert sc.lexical[1] > 0 and sc.lexical[0] == 0 and sc.lexical[2] == 0
    assert sc.semantic.tolist() == [1.0, 0.0, -1.0]
