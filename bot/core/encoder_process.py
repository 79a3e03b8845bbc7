"""Run a sentence encoder in a child process.

The encoder is pure numpy plus a pure-Python tokenizer. In the bot's process its Python half holds the GIL
against the event loop and the SQLite thread, and its BLAS threads compete with them for the cores. In a child
it has a core and a GIL of its own, and the bot's process keeps retrieval, stance, policy and storage
(bench/throughput.py on 2 cores, all-on-topic traffic: 247 msg/s in process, 337-351 msg/s with the child).

The child is a plain ``python -m bot.core.encoder_process FACTORY`` subprocess (not ``multiprocessing``, so it
never re-imports the parent's ``__main__``). It talks over its stdin/stdout: each frame is a 4-byte big-endian
length and a pickle; requests are lists of strings, replies are float32 arrays or ``("error", text)``. Anything
the encoder prints goes to stderr, never into the protocol. The child exits when its stdin closes (it ignores
SIGINT, so Ctrl-C stops the bot, which then closes the pipe).

The child holds no state besides the model, so if it dies the next call starts a new one and retries once.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO, Sequence

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_FACTORY = "bot.core.encoders:usem_single_thread"
_HEADER = struct.Struct(">I")


class EncoderUnavailable(RuntimeError):
    """The encoder process could not be started, or died twice in a row."""


def _write_frame(out: BinaryIO, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_HEADER.pack(len(data)) + data)
    out.flush()


def _read_exact(inp: BinaryIO, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = inp.read(n - len(buf))
        if not chunk:
            raise EOFError("encoder process closed its pipe")
        buf += chunk
    return buf


def _read_frame(inp: BinaryIO) -> Any:
    (n,) = _HEADER.unpack(_read_exact(inp, _HEADER.size))
    return pickle.loads(_read_exact(inp, n))


def load_factory(spec: str):
    """``"package.module:function"`` -> the function."""
    module, _, name = spec.partition(":")
    if not module or not name:
        raise ValueError(f"encoder factory must look like 'package.module:function', got {spec!r}")
    return getattr(importlib.import_module(module), name)


class ProcessEncoder:
    """An :class:`bot.core.ports.Encoder` whose work happens in one child process.

    Construction starts the child and waits (up to ``start_timeout`` s) until its model is loaded, so a broken
    installation fails at start-up with a clear error. ``encode`` may be called from any thread; calls are
    served one at a time, and the caller's thread waits without holding the GIL.
    """

    def __init__(self, factory: str = DEFAULT_FACTORY, *, start_timeout: float = 300.0) -> None:
        self.factory = factory
        self.start_timeout = start_timeout
        self.restarts = 0
        self._lock = threading.Lock()
        self._closed = False
        self._proc: subprocess.Popen | None = None
        self.name, self.dim = self._start()

    # ------------------------------------------------------------------ child lifecycle

    def _start(self) -> tuple[str, int]:
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])  # the directory holding the ``bot`` package
        env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.core.encoder_process", self.factory],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
        )
        try:
            ready, _, _ = select.select([proc.stdout], [], [], self.start_timeout)
            if not ready:
                raise EncoderUnavailable(f"the encoder process did not get ready within {self.start_timeout:.0f} s")
            hello = _read_frame(proc.stdout)
            if not (isinstance(hello, tuple) and hello and hello[0] == "ready"):
                raise EncoderUnavailable(f"the encoder process failed to start: {hello[1] if hello else hello!r}")
        except BaseException as exc:
            self._stop(proc)
            if isinstance(exc, EncoderUnavailable):
                raise
            raise EncoderUnavailable(f"the encoder process failed to start (exit code {proc.returncode}); "
                                     f"see its error output above") from exc
        self._proc = proc
        return str(hello[1]), int(hello[2])

    @staticmethod
    def _stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
        for pipe in (proc.stdin, proc.stdout):
            try:
                if pipe:
                    pipe.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=timeout)  # closing stdin asks the child to exit
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def child_pid(self) -> int | None:
        """Process id of the current child (diagnostics, benchmarks, tests)."""
        proc = self._proc
        return proc.pid if proc is not None else None

    # ------------------------------------------------------------------ Encoder interface

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = [str(t) for t in texts]
        with self._lock:
            for attempt in (1, 2):
                if self._closed:
                    raise EncoderUnavailable("the encoder process is closed")
                proc = self._proc
                try:
                    if proc is None or proc.poll() is not None:
                        raise EOFError("encoder process not running")
                    _write_frame(proc.stdin, batch)
                    reply = _read_frame(proc.stdout)
                except (EOFError, OSError, pickle.UnpicklingError) as exc:
                    if attempt == 2:
                        raise EncoderUnavailable(f"the encoder process died twice in a row: {exc}") from exc
                    log.warning("encoder process died (%s); starting a new one", exc)
                    if proc is not None:
                        self._stop(proc, timeout=1.0)
                    self._proc = None
                    self._start()
                    self.restarts += 1
                    continue
                if isinstance(reply, tuple):  # ("error", text): the encoder raised; the child is still fine
                    raise RuntimeError(f"encoder failed: {reply[1]}")
                return reply
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            proc, self._proc = self._proc, None
        if proc is not None:
            self._stop(proc)

    def __enter__(self) -> "ProcessEncoder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------- child


def child_main(factory_spec: str) -> int:
    # Ctrl-C in a terminal reaches the whole process group: the bot shuts down and closes our stdin, which is
    # how the child ends (no KeyboardInterrupt traceback, no half-written reply)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    proto_out = os.fdopen(os.dup(1), "wb")  # the protocol gets its own descriptor ...
    os.dup2(2, 1)  # ... and anything printed goes to stderr
    proto_in = sys.stdin.buffer
    try:
        encoder = load_factory(factory_spec)()
        encoder.encode(["warm up"])
    except Exception as exc:  # report, then exit: the parent raises EncoderUnavailable with this text
        _write_frame(proto_out, ("error", f"{type(exc).__name__}: {exc}"))
        return 1
    _write_frame(proto_out, ("ready", getattr(encoder, "name", type(encoder).__name__), int(encoder.dim)))
    while True:
        try:
            texts = _read_frame(proto_in)
        except EOFError:
            return 0
        try:
            reply: Any = np.ascontiguousarray(encoder.encode(texts), dtype=np.float32)
        except Exception as exc:
            reply = ("error", f"{type(exc).__name__}: {exc}")
        _write_frame(proto_out, reply)


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_FACTORY))
