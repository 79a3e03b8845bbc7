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
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "CONTRARY_CUES",
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

# Cues that a message does not assert a claim in its own voice (en, ru, uk, de). Cheap and deliberately broad:
# a missed narrative costs less than a pack author's time spent on refutations.
CONTRARY_CUES: dict[str, re.Pattern[str]] = {
    "question": re.compile(r"\?\s*$|^\s*(is|are|was|were|did|does|do|can|could|why|how|what|who|когда|почему|"
                           r"правда ли|чи|чому|stimmt es|ist es wahr)\b", re.I | re.M),
    "negation": re.compile(r"\b(not true|isn'?t true|is false|no evidence|never happened|не правда|неправда|"
                           r"это ложь|не було|не было|nicht wahr|stimmt nicht)\b", re.I),
    "debunk": re.compile(r"\b(debunk\w*|fake news|hoax|myth|propaganda|disinformation|fact[- ]?check\w*|"
                         r"фейк\w*|пропаганд\w*|дезинформац\w*|дезінформац\w*|falschmeldung|desinformation)\b", re.I),
    "attribution": re.compile(r"\b(claims? that|claimed|according to|alleg\w*|they say|reportedly|"
                              r"утверждают|заявля\w*|стверджу\w*|заявил\w*|behaupte\w*|angeblich)\b", re.I),
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


@dataclass
class _Centre:
    key: int
    vector: np.ndarray  # unit-length running mean
    size: int
    touched: int  # logical clock of the last join


@dataclass(frozen=True)
class ClusterHit:
    cluster_key: int  # stable id of the in-memory centre (the storage keeps its own row id per key)
    created: bool
    similarity: float
    size: int


@dataclass
class NarrativeClusterer:
    """Online nearest-centre clustering with bounded memory (no I/O, not thread-safe)."""

    join_cosine: float = JOIN_COSINE
    max_centres: int = MAX_CENTRES
    _centres: dict[int, _Centre] = field(default_factory=dict)
    _next_key: int = 1
    _clock: int = 0
    _matrix: np.ndarray | None = None
    _keys: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self._centres)

    def restore(self, key: int, vector: Sequence[float], size: int) -> None:
        """Put back a centre kept in storage (after a restart)."""
        v = _unit(np.asarray(vector, dtype=np.float32))
        self._clock += 1
        self._centres[key] = _Centre(key, v, max(1, int(size)), self._clock)
        self._next_key = max(self._next_key, key + 1)
        self._evict()
        self._matrix = None

    def add(self, vector: Sequence[float] | np.ndarray) -> ClusterHit:
        """Place one message vector: join the nearest centre at cosine >= join_cosine, else start a new one."""
        v = _unit(np.asarray(vector, dtype=np.float32))
        self._clock += 1
        best_key, best_sim = None, -1.0
        if self._centres:
            if self._matrix is None:
                self._keys = list(self._centres)
                self._matrix = np.stack([self._centres[k].vector for k in self._keys])
            sims = self._matrix @ v
            i = int(np.argmax(sims))
            best_key, best_sim = self._keys[i], float(sims[i])
        if best_key is not None and best_sim >= self.join_cosine:
            c = self._centres[best_key]
            c.vector = _unit(c.vector * c.size + v)
            c.size += 1
            c.touched = self._clock
            if self._matrix is not None:
                self._matrix[self._keys.index(best_key)] = c.vector
            return ClusterHit(best_key, False, round(best_sim, 4), c.size)
        key = self._next_key
        self._next_key += 1
        self._centres[key] = _Centre(key, v, 1, self._clock)
        self._evict()
        self._matrix = None
        return ClusterHit(key, True, 1.0, 1)

    def rekey(self, old: int, new: int) -> None:
        """Give a centre the id storage assigned to it."""
        if old == new or old not in self._centres:
            return
        c = self._centres.pop(old)
        c.key = new
        self._centres[new] = c
        self._next_key = max(self._next_key, new + 1)
        self._matrix = None

    def centre(self, key: int) -> np.ndarray | None:
        c = self._centres.get(key)
        return None if c is None else c.vector.copy()

    def _evict(self) -> None:
        while len(self._centres) > self.max_centres:
            # among the oldest-touched quarter, drop the smallest (ties: the oldest)
            by_age = sorted(self._centres.values(), key=lambda c: c.touched)
            pool = by_age[: max(1, len(by_age) // 4)]
            victim = min(pool, key=lambda c: (c.size, c.touched))
            del self._centres[victim.key]
            self._matrix = None


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
    ex = [{"text": t.strip(), "lang": lang or "en"} for t, lang in exemplars if t and t.strip()]
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
        self.clusterer = clusterer or NarrativeClusterer()
        self.min_assert = min_assert
        self.keep_text = keep_text
        self._loaded = False

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
