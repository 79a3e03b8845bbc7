"""Campaign tracking: one talking point, or one copypasta, pushed by several accounts within a short window.

:class:`CampaignTracker` is pure (no I/O, no clock of its own): the service feeds it every decided message as a
:class:`Sighting` and it answers with a :class:`CampaignEvent` when a group crosses the threshold (``new``) or an
already raised campaign grows (``grown``). Groups are keyed by talking point (assertions only: refutations,
reports, questions never count) or, for long texts, by near-duplicate text (bottom-k shingle sketch for candidate
lookup, then Jaccard similarity, or a high sentence-vector cosine with a looser Jaccard).

Memory is bounded: per server at most ``max_groups`` groups (least recently seen evicted), each holding at most
``max_members`` sightings; servers are capped at ``max_servers`` (least recently active evicted). Sightings older
than the window are dropped when their group is next touched or on a periodic sweep.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Sequence

import numpy as np

from .models import Action, Stance

KIND_TALKING_POINT = "talking_point"
KIND_COPYPASTA = "copypasta"


@dataclass(frozen=True)
class CampaignSettings:
    enabled: bool = True
    min_messages: int = 4
    min_authors: int = 3
    window: timedelta = timedelta(minutes=60)
    count_review: bool = True  # review-level assertions count (not only confident ones)
    debate_guard: bool = True  # no talking-point campaign while refutations in the window are as many as assertions
    copypasta: bool = True
    copypasta_min_chars: int = 80
    text_similarity: float = 0.6  # Jaccard of character shingles for a near-duplicate
    vector_similarity: float = 0.9  # cosine for a near-duplicate (with at least half the text similarity)
    max_groups: int = 256  # per server
    max_members: int = 200  # per group (the alert shows the most recent)
    max_servers: int = 10_000

    def validate(self) -> None:
        if self.min_messages < 2 or self.min_authors < 2:
            raise ValueError("campaigns.min_messages and campaigns.min_authors must be at least 2")
        if self.min_authors > self.min_messages:
            raise ValueError("campaigns.min_authors cannot exceed campaigns.min_messages")
        if self.window <= timedelta(0):
            raise ValueError("campaigns.window_minutes must be positive")
        if not (0.0 < self.text_similarity <= 1.0 and 0.0 < self.vector_similarity <= 1.0):
            raise ValueError("campaigns similarity thresholds must be in (0, 1]")
        if self.copypasta_min_chars < 20:
            raise ValueError("campaigns.copypasta_min_chars must be at least 20")
        if min(self.max_groups, self.max_members, self.max_servers) < 1:
            raise ValueError("campaigns caps must be positive")


@dataclass(frozen=True)
class Sighting:
    """One message as the tracker sees it (and as the alert shows it)."""

    platform: str
    server_id: str
    channel_id: str
    message_id: str
    author_id: str
    at: datetime
    text: str
    link: str = ""
    talking_point_id: str | None = None
    stance: Stance | None = None
    action: Action = Action.NONE
    author_created_at: datetime | None = None
    author_joined_at: datetime | None = None
    incident_id: int | None = None
    near_point: str | None = None  # the talking point the text is nearest to, matched or not (copypasta debate guard)
    counter_speech: bool = False  # the text argues against or reports a claim (cues): never copypasta


@dataclass(frozen=True)
class CampaignEvent:
    """A campaign crossed the threshold (``new``) or grew (not ``new``); ``members`` are all its sightings so far,
    oldest first. ``campaign_id`` is set once the campaign is stored."""

    key: str
    kind: str
    talking_point_id: str | None
    new: bool
    members: tuple[Sighting, ...]
    added: Sighting
    campaign_id: int | None = None

    @property
    def authors(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.author_id for m in self.members))

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.channel_id for m in self.members))


def shingles(text: str, n: int = 5) -> frozenset[int]:
    """Hashed character n-grams of a text (already normalised; whitespace collapsed here)."""
    t = " ".join(text.split())
    if len(t) <= n:
        return frozenset((zlib.crc32(t.encode()),))
    b = t.encode()
    return frozenset(zlib.crc32(b[i:i + n]) for i in range(len(b) - n + 1))


def sketch(sh: frozenset[int], k: int = 12) -> tuple[int, ...]:
    """Bottom-k of the shingle hashes: near-duplicates share some of them with high probability."""
    return tuple(sorted(sh)[:k])


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


@dataclass
class _Group:
    key: str
    kind: str
    talking_point_id: str | None
    members: list[Sighting] = field(default_factory=list)
    shingles: frozenset[int] = frozenset()
    sketch: tuple[int, ...] = ()
    vector: np.ndarray | None = None
    raised: bool = False
    campaign_id: int | None = None
    refutes: list[datetime] = field(default_factory=list)  # refutations of the point in the window (never members)
    near_point: str | None = None  # copypasta: the talking point its first text was nearest to

    def idle_since(self, cutoff: datetime) -> bool:
        """Nothing (member or refutation) seen since ``cutoff``."""
        return all(t < cutoff for t in (self.members[-1].at if self.members else None,
                                         self.refutes[-1] if self.refutes else None) if t is not None)


@dataclass
class _Server:
    groups: "OrderedDict[str, _Group]" = field(default_factory=OrderedDict)  # least recently seen first
    by_sketch: dict[int, set[str]] = field(default_factory=dict)  # sketch hash -> copypasta group keys
    seen: "OrderedDict[tuple[str, str], None]" = field(default_factory=OrderedDict)  # (channel, message) ids
    count: int = 0
    next_key: int = 0


class CampaignTracker:
    def __init__(self, settings: CampaignSettings | None = None) -> None:
        self.settings = settings or CampaignSettings()
        self._servers: "OrderedDict[tuple[str, str], _Server]" = OrderedDict()

    # ------------------------------------------------------------------ queries

    def counts(self) -> dict[str, int]:
        """How much state is held (for the bench and the memory bound tests)."""
        groups = sum(len(s.groups) for s in self._servers.values())
        members = sum(len(g.members) for s in self._servers.values() for g in s.groups.values())
        return {"servers": len(self._servers), "groups": groups, "sightings": members}

    def counts_toward_talking_point(self, s: Sighting) -> bool:
        if s.talking_point_id is None or s.stance is not Stance.ASSERT or s.action is Action.NONE:
            return False
        return s.action is Action.REPLY or self.settings.count_review

    def set_campaign_id(self, platform: str, server_id: str, key: str, campaign_id: int) -> None:
        srv = self._servers.get((platform, server_id))
        g = srv.groups.get(key) if srv else None
        if g is not None:
            g.campaign_id = campaign_id

    def forget_message(self, platform: str, server_id: str | None, channel_id: str, message_id: str) -> None:
        """A deleted or purged message: its text leaves the tracker too (any server of ``platform`` if None)."""
        for (p, sid), srv in self._servers.items():
            if p != platform or (server_id is not None and sid != server_id):
                continue
            for g in srv.groups.values():
                if any(m.message_id == message_id and m.channel_id == channel_id for m in g.members):
                    g.members = [replace(m, text="") if m.message_id == message_id and m.channel_id == channel_id
                                 else m for m in g.members]

    # ------------------------------------------------------------------ observing

    def observe(self, s: Sighting, vector: np.ndarray | None = None, norm_text: str | None = None) -> CampaignEvent | None:
        cfg = self.settings
        if not cfg.enabled:
            return None
        tp_ok = self.counts_toward_talking_point(s)
        if s.talking_point_id is not None and s.stance is Stance.REFUTE and cfg.debate_guard:
            self._refuted(s)
        text = norm_text if norm_text is not None else s.text.casefold()
        copy_ok = (cfg.copypasta and len(text) >= cfg.copypasta_min_chars and not s.counter_speech
                   and s.stance not in (Stance.REFUTE, Stance.REPORT, Stance.ASK))  # refuting copies never count
        if not tp_ok and not copy_ok:
            return None
        srv = self._server(s.platform, s.server_id)
        mkey = (s.channel_id, s.message_id)
        if mkey in srv.seen:  # an edit or a redelivery never counts twice
            return None
        srv.seen[mkey] = None
        if len(srv.seen) > cfg.max_groups * cfg.max_members:
            srv.seen.popitem(last=False)
        srv.count += 1
        if srv.count % 64 == 0:
            self._sweep(srv, s.at)
        if tp_ok:  # a talking point: its group (a copypasta of it is the same campaign)
            return self._add(srv, self._tp_group(srv, s.talking_point_id), s)
        group = self._copypasta_group(srv, text, vector, s)
        return self._add(srv, group, s)

    def _refuted(self, s: Sighting) -> None:
        """A refutation never counts toward a campaign, but a point argued against as much as it is pushed is a
        debate: remembered (time only) so the threshold can tell the two apart."""
        g = self._tp_group(self._server(s.platform, s.server_id), s.talking_point_id)
        cutoff = s.at - self.settings.window
        g.refutes = [t for t in g.refutes if t >= cutoff][-self.settings.max_members + 1:] + [s.at]

    def _server(self, platform: str, server_id: str) -> _Server:
        k = (platform, server_id)
        srv = self._servers.get(k)
        if srv is None:
            srv = self._servers[k] = _Server()
            if len(self._servers) > self.settings.max_servers:
                self._servers.popitem(last=False)
        else:
            self._servers.move_to_end(k)
        return srv

    def _tp_group(self, srv: _Server, tp_id: str) -> _Group:
        key = f"tp:{tp_id}"
        g = srv.groups.get(key)
        if g is None:
            g = srv.groups[key] = _Group(key, KIND_TALKING_POINT, tp_id)
        return g

    def _copypasta_group(self, srv: _Server, text: str, vector: np.ndarray | None, s: Sighting) -> _Group:
        cfg = self.settings
        sh = shingles(text)
        sk = sketch(sh)
        shared: dict[str, int] = {}
        for h in sk:
            for key in srv.by_sketch.get(h, ()):
                shared[key] = shared.get(key, 0) + 1
        # near-duplicates share several of the bottom-k hashes; only the few best candidates are compared in full
        cands = sorted((k for k, n in shared.items() if n >= 2), key=shared.__getitem__, reverse=True)[:8]
        best, best_sim = None, 0.0
        for key in cands:
            g = srv.groups.get(key)
            if g is None:
                continue
            sim = jaccard(sh, g.shingles)
            close = sim >= cfg.text_similarity
            if not close and vector is not None and g.vector is not None and sim >= cfg.text_similarity / 2:
                close = float(np.dot(vector, g.vector)) >= cfg.vector_similarity
            if close and sim > best_sim:
                best, best_sim = g, sim
        if best is not None:
            return best
        srv.next_key += 1
        key = f"cp:{srv.next_key}"
        v = None if vector is None else np.asarray(vector, dtype=np.float32)
        g = srv.groups[key] = _Group(key, KIND_COPYPASTA, s.talking_point_id, shingles=sh, sketch=sk, vector=v,
                                     near_point=s.near_point)
        for h in sk:
            srv.by_sketch.setdefault(h, set()).add(key)
        return g

    def _add(self, srv: _Server, g: _Group, s: Sighting) -> CampaignEvent | None:
        cfg = self.settings
        cutoff = s.at - cfg.window
        if not g.raised:  # before the alert only the window counts; after it, the alert keeps its history
            g.members = [m for m in g.members if m.at >= cutoff]
        elif g.members and g.members[-1].at < cutoff:  # a raised campaign that went quiet for a window ended: start over
            g.members, g.raised, g.campaign_id = [], False, None
        g.members.append(s)
        if len(g.members) > cfg.max_members:
            del g.members[0]
        srv.groups[g.key] = g
        srv.groups.move_to_end(g.key)
        while len(srv.groups) > cfg.max_groups:
            _, old = srv.groups.popitem(last=False)
            self._unindex(srv, old)
        if g.raised:
            return self._event(g, s, new=False)
        authors = {m.author_id for m in g.members}
        refutes = 0
        if cfg.debate_guard:
            # a copypasta near a point the server is busy refuting belongs to that debate: the point's refutations count
            debated = srv.groups.get(f"tp:{g.near_point}") if g.kind == KIND_COPYPASTA and g.near_point else g
            refutes = sum(1 for t in debated.refutes if t >= cutoff) if debated is not None else 0
        if len(g.members) >= cfg.min_messages and len(authors) >= cfg.min_authors and len(g.members) > refutes:
            g.raised = True
            return self._event(g, s, new=True)
        return None

    @staticmethod
    def _event(g: _Group, s: Sighting, *, new: bool) -> CampaignEvent:
        return CampaignEvent(g.key, g.kind, g.talking_point_id, new, tuple(g.members), s, g.campaign_id)

    def _sweep(self, srv: _Server, now: datetime) -> None:
        cutoff = now - self.settings.window
        for key in [k for k, g in srv.groups.items() if g.idle_since(cutoff)]:
            self._unindex(srv, srv.groups.pop(key))

    @staticmethod
    def _unindex(srv: _Server, g: _Group) -> None:
        for h in g.sketch:
            keys = srv.by_sketch.get(h)
            if keys is not None:
                keys.discard(g.key)
                if not keys:
                    del srv.by_sketch[h]


def with_campaign_id(event: CampaignEvent, campaign_id: int) -> CampaignEvent:
    return replace(event, campaign_id=campaign_id)


def timeline(members: Sequence[Sighting], buckets: int = 6) -> list[tuple[datetime, int]]:
    """Messages per time bucket between the first and last sighting (for the alert's timeline line)."""
    if not members:
        return []
    start, end = members[0].at, members[-1].at
    span = max((end - start).total_seconds(), 1.0)
    counts = [0] * buckets
    for m in members:
        counts[min(buckets - 1, int((m.at - start).total_seconds() / span * buckets))] += 1
    return [(start + timedelta(seconds=span * i / buckets), c) for i, c in enumerate(counts)]


def age_text(then: datetime | None, now: datetime) -> str:
    """'3d', '5h', '12m' or '?' (how old an account or a membership is)."""
    if then is None:
        return "?"
    secs = max(0.0, (now - then).total_seconds())
    if secs >= 86400:
        return f"{int(secs // 86400)}d"
    if secs >= 3600:
        return f"{int(secs // 3600)}h"
    return f"{int(secs // 60)}m"


def describe(event_members: Sequence[Sighting], now: datetime) -> dict[str, Any]:
    """Platform-neutral summary for alert renderers: authors (with ages), channels, counts, timeline."""
    authors: dict[str, Sighting] = {}
    for m in event_members:
        authors.setdefault(m.author_id, m)
    return {
        "messages": len(event_members),
        "authors": [(a, age_text(m.author_created_at, now), age_text(m.author_joined_at, now))
                    for a, m in authors.items()],
        "channels": list(dict.fromkeys(m.channel_id for m in event_members)),
        "timeline": timeline(event_members),
        "first_at": event_members[0].at if event_members else None,
        "last_at": event_members[-1].at if event_members else None,
    }
