"""Encoders the encoder child process builds in tests (imported by name in the child, so no fixtures here)."""

from __future__ import annotations

import hashlib
import os
import sys

import numpy as np


class HashEncoder:
    """Deterministic 16-d 'embeddings' from a hash of the text: cheap, and equal in every process."""

    name = "hash16"
    dim = 16

    def encode(self, texts):
        rows = []
        for t in texts:
            if t == "please fail":
                raise ValueError("asked to fail")
            if t == "please exit":
                os._exit(3)  # the child dies mid-call
            digest = hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest()[: self.dim]
            v = np.frombuffer(digest, dtype=np.uint8).astype(np.float32) + 1.0
            rows.append(v / np.linalg.norm(v))
        return np.stack(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)


def hash_encoder() -> HashEncoder:
    return HashEncoder()


class ChattyEncoder(HashEncoder):
    """Prints to stdout on every call: that must never reach the parent's protocol pipe."""

    def encode(self, texts):
        print("chatty encoder says hello", list(texts))
        sys.stdout.flush()
        return super().encode(texts)


def chatty_encoder() -> ChattyEncoder:
    return ChattyEncoder()


def broken_encoder():
    raise RuntimeError("weights missing")
