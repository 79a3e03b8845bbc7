"""Emerging narratives: cluster on-topic assertions that match no talking point (issue #16, point 3).

Pure code, no I/O. The service feeds :meth:`NarrativeClusterer.add` with messages the detector let past the topic
gate but matched to no talking point; :func:`eligible` decides which of them count (they must assert something:
calibrated P(assert) >= 0.5 and none of the contrary cues - negation, debunking, attribution, a question).
A message joins the nearest cluster centre with cosine >= ``join_cosine``, else starts a new cluster. Memory is
bounded: at most ``max_centres`` centres; when full, the smallest of the oldest-touched centres is evicted.

:func:`draft_talking_point` turns a cluster (chosen by a pack author) into a draft talking point, and
:func:`draft_pack_yaml` writes it as a single-file pack in the format of ``bot/packs/*`` with the ``draft`` key,
so the pack loader refuses it until a person completes it: nothing goes live without review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "CONTRARY_CUES",
    "NarrativeSettings",
    "NarrativeClusterer",
    "ClusterHit",
    "eligible",
    "contrary_cue",
    "draft_talking_point",
    "draft_pack_yaml",
]

JOIN_COSINE = 0.55
MAX_CENTRES = 2048
MIN_ASSERT_PROB = 0.5


@dataclass(frozen=True)
class NarrativeSettings:
    """``[narratives]`` in the config (docs/narratives.md)."""

    enabled: bool = True
    min_assert: float = MIN_ASSERT_PROB  # calibrated P(assert) a message needs to count
    similarity: float = JOIN_COSINE  # cosine to a cluster centre needed to join it
    max_clusters: int = MAX_CENTRES  # centres kept in memory (the bound; never above MAX_CENTRES)
    keep_text: bool = True  # keep member text (within retention) for representatives and drafts

    def validate(self) -> None:
        if not 0.0 <= self.min_assert <= 1.0:
            raise ValueError(f"narratives.min_assert: must be between 0 and 1 (got {self.min_assert})")
        if not 0.0 < self.similarity < 1.0:
            raise ValueError(f"narratives.similarity: must be above 0 and below 1 (got {self.similarity})")
        if not 1 <= self.max_clusters <= MAX_CENTRES:
            raise ValueError(f"narratives.max_clusters: must be 1-{MAX_CENTRES} (got {self.max_clusters})")

# Cues that a message does not assert a claim in its own voice (en, ru, uk, de). Cheap and deliberately broad:
# a missed narrative costs less than a pack author's time spent on refutations.
CONTRARY_CUES: dict[str, re.Pattern[str]] = {
    "question": re.compile(r"\?\s*$|^\s*(is|are|was|were|did|does|do|can|could|why|how|what|who|когда|почему|"
                           r"правда ли|чи|чому|stimmt es|ist es wahr)\b", re.I | re.M),
    "negation": re.compile(r"\b(not true|isn'?t true|is false|no evidence|never happened|не правда|неправда|"
                           r"это ложь|не було|не было|nicht wahr|stimmt nicht)\b", re.I),
    "debunk": re.compile(r"\b(debunk\w*|fake news|hoax|myth|propaganda|disinformation|fact[- ]?check\w*|"
                         r"фейк\w*|пропаганд\w*|дезинформац\w*|дезінформац\w*|falschmeldung|desinformation)\b", re.I),
    "attribution": re.compile(r"\b(claims? that|claimed|claiming|according to|alleg\w*|they say|people say|"
                              r"(?<!not )(?<!just )saying|reportedly|supposedly|"
                              r"утверждают|заявля\w*|заявил\w*|говорят|твердят|пишут|якобы|мол|дескать|"
                              r"стверджу\w*|заявив\w*|кажуть|пишуть|нібито|мовляв|"
                              r"behaupte\w*|angeblich|sagen sie|sie sagen|hei(ß|ss)t es)\b", re.I),
}


def contrary_cue(text: str) -> str | None:
    """The name of the first contrary cue found in ``text`` (None when it reads as a plain assertion)."""
    for name, rx in CONTRARY_CUES.items():
        if rx.search(text):
            return name
    return None


def eligible(*, passed_gate: bool, matched: bool, p_assert: float | None, text: str,
             min_assert: float = MIN_ASSERT_PROB) -> bool:
    """Does a message count toward an emerging narrative? Past the gate, no talking point, asserting."""
    if not passed_gate or matched or p_assert is None or p_assert < min_assert:
        return False
    return contrary_cue(text) is None


@dataclass(frozen=True)
class ClusterHit:
    cluster_key: int  # stable id of the in-memory centre (the storage keeps its own row id per key)
    created: bool
    similarity: float
    size: int


class NarrativeClusterer:
    """Online nearest-centre clustering with bounded memory (no I/O, not thread-safe).

    Centres live in fixed slots of one preallocated matrix (grown by doubling up to ``max_centres`` rows), so a new
    cluster or an eviction costs O(centres) numpy work, never a rebuild: at the bound, with 512-dimensional vectors,
    the matrix is 4 MB and nothing else grows."""

    def __init__(self, join_cosine: float = JOIN_COSINE, max_centres: int = MAX_CENTRES) -> None:
        if max_centres < 1:
            raise ValueError("max_centres must be positive")
        self.join_cosine = join_cosine
        self.max_centres = max_centres
        self._matrix: np.ndarray | None = None  # (capacity, dim) unit centres; unused rows are zero
        self._size = np.zeros(0, dtype=np.int64)  # members per slot (0: free)
        self._touched = np.zeros(0, dtype=np.int64)  # logical clock of the slot's last join
        self._slot_key: list[int | None] = []
        self._slot_of: dict[int, int] = {}
        self._free: list[int] = []
        self._used = 0  # slots handed out so far (free ones are reused first)
        self._next_key = 1
        self._clock = 0

    def __len__(self) -> int:
        return len(self._slot_of)

    def __repr__(self) -> str:
        return f"NarrativeClusterer(centres={len(self)}, max_centres={self.max_centres}, join_cosine={self.join_cosine})"

    def restore(self, key: int, vector: Sequence[float], size: int) -> None:
        """Put back a centre kept in storage (after a restart). A vector of another dimension (another encoder) is
        skipped."""
        v = _unit(np.asarray(vector, dtype=np.float32))
        if self._matrix is not None and v.shape[0] != self._matrix.shape[1]:
            return
        self._clock += 1
        if key in self._slot_of:
            self._release(key)
        self._place(key, v, max(1, int(size)))
        self._next_key = max(self._next_key, key + 1)

    def add(self, vector: Sequence[float] | np.ndarray) -> ClusterHit:
        """Place one message vector: join the nearest centre at cosine >= join_cosine, else start a new one."""
        v = _unit(np.asarray(vector, dtype=np.float32))
        self._clock += 1
        if self._slot_of and self._matrix is not None and v.shape[0] == self._matrix.shape[1]:
            sims = self._matrix[: self._used] @ v
            i = int(np.argmax(sims))  # free rows are zero: similarity 0, below any join threshold
            best = float(sims[i])
            if best >= self.join_cosine and self._size[i] > 0:
                n = int(self._size[i])
                self._matrix[i] = _unit(self._matrix[i] * n + v)
                self._size[i] = n + 1
                self._touched[i] = self._clock
                return ClusterHit(self._slot_key[i], False, round(best, 4), n + 1)  # type: ignore[arg-type]
        key = self._next_key
        self._next_key += 1
        self._place(key, v, 1)
        return ClusterHit(key, True, 1.0, 1)

    def rekey(self, old: int, new: int) -> None:
        """Give a centre the id storage assigned to it."""
        if old == new or old not in self._slot_of:
            return
        if new in self._slot_of:
            self._release(new)
        i = self._slot_of.pop(old)
        self._slot_of[new] = i
        self._slot_key[i] = new
        self._next_key = max(self._next_key, new + 1)

    def centre(self, key: int) -> np.ndarray | None:
        i = self._slot_of.get(key)
        return None if i is None or self._matrix is None else self._matrix[i].copy()

    # -------------------------------------------------------------- slots

    def _place(self, key: int, v: np.ndarray, size: int) -> None:
        while len(self._slot_of) >= self.max_centres:
            self._evict_one()
        if self._matrix is None:
            self._matrix = np.zeros((min(16, self.max_centres), v.shape[0]), dtype=np.float32)
            self._size = np.zeros(self._matrix.shape[0], dtype=np.int64)
            self._touched = np.zeros(self._matrix.shape[0], dtype=np.int64)
            self._slot_key = [None] * self._matrix.shape[0]
        if self._free:
            i = self._free.pop()
        else:
            if self._used == self._matrix.shape[0]:
                self._grow()
            i = self._used
            self._used += 1
        self._matrix[i] = v
        self._size[i] = size
        self._touched[i] = self._clock
        self._slot_key[i] = key
        self._slot_of[key] = i

    def _grow(self) -> None:
        assert self._matrix is not None
        cap = min(self.max_centres, self._matrix.shape[0] * 2)
        extra = cap - self._matrix.shape[0]
        self._matrix = np.concatenate([self._matrix, np.zeros((extra, self._matrix.shape[1]), np.float32)])
        self._size = np.concatenate([self._size, np.zeros(extra, np.int64)])
        self._touched = np.concatenate([self._touched, np.zeros(extra, np.int64)])
        self._slot_key += [None] * extra

    def _release(self, key: int) -> None:
        i = self._slot_of.pop(key)
        assert self._matrix is not None
        self._matrix[i] = 0.0
        self._size[i] = 0
        self._touched[i] = 0
        self._slot_key[i] = None
        self._free.append(i)

    def _evict_one(self) -> None:
        """Among the oldest-touched quarter of the centres, drop the smallest (ties: the oldest)."""
        live = np.fromiter(self._slot_of.values(), dtype=np.int64, count=len(self._slot_of))
        k = max(1, len(live) // 4)
        touched = self._touched[live]
        pool = live[np.argpartition(touched, k - 1)[:k]] if k < len(live) else live
        victim = int(pool[np.lexsort((self._touched[pool], self._size[pool]))[0]])
        self._release(self._slot_key[victim])  # type: ignore[arg-type]


def _unit(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.float32, copy=False).ravel()
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


# ------------------------------------------------------------------------------------------ drafts

_SLUG_BAD = re.compile(r"[^a-z0-9]+")


def slugify(text: str, limit: int = 60) -> str:
    s = _SLUG_BAD.sub("-", text.casefold()).strip("-")
    return (s[:limit].rstrip("-") or "new-narrative")


def draft_talking_point(*, claim_id: str, claim: str, exemplars: Iterable[tuple[str, str]],
                        title: str | None = None) -> dict:
    """A draft talking point (pack format) from a pack author's choices: ``exemplars`` are (text, lang) pairs
    taken as ``assert`` exemplars. Cards and sources stay empty for the author to write."""
    ex, seen = [], set()
    for t, lang in exemplars:
        key = " ".join((t or "").split()).casefold()
        if key and key not in seen:  # the pack loader refuses duplicate exemplars (copypasta joins one cluster)
            seen.add(key)
            ex.append({"text": t.strip(), "lang": lang or "en"})
    return {
        "id": slugify(claim_id),
        "draft": "emerging narrative from contextbot; a pack author must write the cards, sources, refute and "
                 "report exemplars, review the assert exemplars, then delete this key",
        "claim": claim.strip(),
        "cards": {"en": {"title": (title or claim).strip()[:120], "summary": "", "key_facts": [],
                         "why_it_matters": ""}},
        "sources": [],
        "exemplars": {"assert": ex, "refute": [], "report": []},
    }


def draft_pack_yaml(tp: Mapping, *, pack_id: str = "narrative-drafts", version: str = "0.0.1") -> str:
    """A single-file pack (``talking_points:`` as a list) holding one draft talking point, as YAML text."""
    import yaml

    langs = sorted({e["lang"] for e in tp.get("exemplars", {}).get("assert", [])} | {"en"})
    data = {
        "schema": 1,
        "id": pack_id,
        "version": version,
        "name": "Draft talking points from emerging narratives",
        "description": "Drafts exported from the contextbot dashboard for review by a pack author.",
        "languages": langs,
        "talking_points": [dict(tp)],
    }
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=110, default_flow_style=False)


# ------------------------------------------------------------------------------------------ tracker


class NarrativeTracker:
    """Feeds eligible decisions into the clusterer and keeps clusters and members in a NarrativeRepository.

    Wired by the composition root: ``service.narratives = NarrativeTracker(repo)`` and
    ``detector.narratives = True`` (so unmatched on-topic decisions carry their vector and P(assert))."""

    def __init__(self, repo, *, clusterer: NarrativeClusterer | None = None, min_assert: float = MIN_ASSERT_PROB,
                 keep_text: bool = True) -> None:
        self.repo = repo
        self.clusterer = clusterer if clusterer is not None else NarrativeClusterer()  # (an empty one is falsy)
        self.min_assert = min_assert
        self.keep_text = keep_text
        self._loaded = False

    @classmethod
    def from_settings(cls, repo, settings: NarrativeSettings) -> "NarrativeTracker":
        return cls(repo, clusterer=NarrativeClusterer(join_cosine=settings.similarity,
                                                      max_centres=settings.max_clusters),
                   min_assert=settings.min_assert, keep_text=settings.keep_text)

    async def load(self) -> None:
        """Restore the newest centres from storage (once)."""
        if self._loaded:
            return
        self._loaded = True
        for key, vec, size in reversed(await self.repo.centres(self.clusterer.max_centres)):
            self.clusterer.restore(key, vec, size)

    async def observe(self, msg, decision, now=None) -> int | None:
        """Cluster ``msg`` when its decision is eligible; returns the cluster id (None: not counted)."""
        if decision.claim_vector is None or not eligible(
                passed_gate=not decision.explanation.gated,
                matched=decision.is_incident or decision.answer_question or decision.action.value != "none",
                p_assert=decision.p_assert, text=msg.text, min_assert=self.min_assert):
            return None
        await self.load()
        from .ports import NewNarrativeMember

        hit = self.clusterer.add(decision.claim_vector)
        key = hit.cluster_key
        if hit.created:
            # the storage names the cluster; re-key the fresh centre under that id
            stored = await self.repo.create_cluster(self.clusterer.centre(key))
            self.clusterer.rekey(key, stored)
            key = stored
        await self.repo.add_member(NewNarrativeMember(
            cluster_id=key, platform=msg.platform, server_id=msg.server_id, channel_id=msg.channel_id,
            message_id=msg.message_id, author_id=msg.author_id, lang=decision.lang or "en",
            content=msg.text if self.keep_text else None, similarity=hit.similarity,
            p_assert=float(decision.p_assert), created_at=now), self.clusterer.centre(key))
        return key
