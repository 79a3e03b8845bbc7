"""Moderator verdicts teach the detector (issue #5). Platform-neutral: no aiohttp, no discord, no nio.

* :class:`VerdictLearner` turns a verdict on an incident into a per-server exemplar: *false positive* ->
  a negative exemplar, *confirmed* -> a positive one, *dismissed* / re-opened -> none. The exemplar is stored
  (``server_exemplars``) and handed to the running detector at once (``Detector.add_server_exemplar``), so the
  next near-identical message on that server is decided with it. A changed verdict retires the previous
  exemplar of the same incident.
* :func:`set_point_policy` / :func:`clear_point_policy`: an admin's per talking point reply threshold or
  review-only switch, stored (``point_policies``) and applied at once (``Detector.set_point_policy``).
* :func:`restore_learning` loads stored exemplars and policies into a detector at start-up. It is idempotent
  per detector object (exemplars already loaded are skipped), so calling it twice does no harm.
* Each exemplar is stored with its sentence vector. When the incident's content is purged (retention, or the
  message was deleted) the database blanks the exemplar's text too (trigger in migrations/0004); the detector
  keeps learning from the vector, so purging loses no verdict.
* ``IncidentService.resolve`` calls :meth:`VerdictLearner.learn` (the composition root wires it), so a verdict
  from Discord, Matrix or the dashboard teaches the detector the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import weakref
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from ..core.detector import PointPolicy
from ..core.models import Incident, IncidentStatus
from ..storage.dashboard import PolicyRecord, ServerExemplar, SqliteDashboardRepository

log = logging.getLogger(__name__)


class LearningDetector(Protocol):
    def add_server_exemplar(self, server_id: str, talking_point_id: str, text: str, positive: bool,
                            embedding: Any = None) -> None: ...

    def set_point_policy(self, server_id: str | None, talking_point_id: str, policy: PointPolicy | None) -> None: ...


# What each live detector already holds, as (server_id, talking point, vector digest or text, positive), so
# restore_learning is idempotent and a verdict learned while running is not loaded twice (independent of database
# row ids). The vector identifies an exemplar also after its text was purged.
_Key = tuple[str, str, str, bool]
_loaded: "weakref.WeakKeyDictionary[Any, set[_Key]]" = weakref.WeakKeyDictionary()


def _key(e: ServerExemplar) -> _Key:
    ident = "vec:" + hashlib.sha1(e.embedding).hexdigest() if e.embedding else e.text
    return (e.server_id, e.talking_point_id, ident, bool(e.positive))


def _vector(e: ServerExemplar) -> np.ndarray | None:
    return np.frombuffer(e.embedding, dtype=np.float32) if e.embedding else None


def _loaded_keys(detector: Any) -> set[_Key]:
    try:
        return _loaded.setdefault(detector, set())
    except TypeError:  # not weak-referenceable (a test fake): no bookkeeping
        return set()


def _add(detector: LearningDetector, exemplars: list[ServerExemplar]) -> int:
    loaded = _loaded_keys(detector)
    n = 0
    for e in exemplars:
        if _key(e) in loaded:
            continue
        vector = _vector(e)
        if vector is None and not e.text:
            log.warning("learned exemplar %s has neither text nor vector (purged before it was back-filled); "
                        "skipped", e.id)
            continue
        detector.add_server_exemplar(e.server_id, e.talking_point_id, e.text, e.positive, embedding=vector)
        loaded.add(_key(e))
        n += 1
    return n


def _embedding_bytes(detector: Any, text: str) -> bytes | None:
    """The detector's vector for ``text`` as stored bytes (None if the detector cannot embed)."""
    embed = getattr(detector, "exemplar_embedding", None)
    if embed is None or not text:
        return None
    return np.asarray(embed(text), dtype=np.float32).tobytes()


def verdict_polarity(status: IncidentStatus) -> bool | None:
    """The exemplar a verdict creates: True positive (confirmed), False negative (false positive), None none."""
    status = IncidentStatus(status)
    if status is IncidentStatus.CONFIRMED:
        return True
    if status is IncidentStatus.FALSE_POSITIVE:
        return False
    return None


def incident_language(incident: Incident) -> str:
    try:
        data = json.loads(incident.explanation_json or "{}")
    except ValueError:
        return ""
    lang = data.get("language") if isinstance(data, dict) else None
    return lang if isinstance(lang, str) else ""


@dataclass(frozen=True)
class LearnResult:
    exemplar: ServerExemplar | None  # the new exemplar (None for dismissed, re-opened or purged content)
    retired: tuple[ServerExemplar, ...] = ()  # exemplars of an earlier verdict on the same incident
    live: bool = True  # False: the running detector still holds a retired exemplar until restart
    notes: tuple[str, ...] = field(default_factory=tuple)


class VerdictLearner:
    """Verdict -> exemplar, stored and applied to the running detector."""

    def __init__(self, store: SqliteDashboardRepository, detector: LearningDetector) -> None:
        self.store = store
        self.detector = detector

    async def learn(self, incident: Incident, status: IncidentStatus, actor: str) -> LearnResult:
        """Call after the verdict is stored (``incident`` may be the row before or after resolving)."""
        positive = verdict_polarity(status)
        text = incident.content or ""
        notes: list[str] = []
        if positive is not None and not text:
            notes.append("message content was purged: nothing to learn from")
        vector = await asyncio.to_thread(_embedding_bytes, self.detector, text) if positive is not None else None
        new, retired = await self.store.replace_incident_exemplar(
            platform=incident.platform, server_id=incident.server_id, talking_point_id=incident.talking_point_id,
            text=text or None, lang=incident_language(incident), positive=positive, incident_id=incident.id,
            created_by=actor, embedding=vector,
        )
        live = True
        if any(r.positive != positive for r in retired):  # the verdict changed: the detector must forget it
            live = await self._forget(incident.server_id)
            if not live:
                notes.append("the previous verdict stays active in the running bot until it restarts")
        if new is not None:
            await asyncio.to_thread(_add, self.detector, [new])
        return LearnResult(new, tuple(retired), live, tuple(notes))

    async def _forget(self, server_id: str) -> bool:
        """Rebuild the server's overlay from the active exemplars, if the detector supports clearing it
        (``clear_server_exemplars(server_id)``); otherwise the old verdict stays until a restart."""
        clear = getattr(self.detector, "clear_server_exemplars", None)
        if clear is None:
            return False
        active = await self.store.active_exemplars(server_id)
        loaded = _loaded_keys(self.detector)

        def rebuild() -> None:
            clear(server_id)
            for k in [k for k in loaded if k[0] == server_id]:
                loaded.discard(k)
            _add(self.detector, active)

        await asyncio.to_thread(rebuild)
        return True


# ------------------------------------------------------------------------------------------ policies


def _policy_of(reply_threshold: float | None, review_only: bool) -> PointPolicy:
    return PointPolicy(reply_threshold=reply_threshold, review_only=bool(review_only))


async def set_point_policy(
    store: SqliteDashboardRepository, detector: LearningDetector, *, platform: str, server_id: str,
    talking_point_id: str, reply_threshold: float | None, review_only: bool, actor: str,
) -> PolicyRecord:
    """Store and apply a policy. ``platform == server_id == ''`` is the global policy for the point.

    The detector keys policies by server id only (a server policy replaces the global one for that server)."""
    if reply_threshold is not None and not 0.0 <= reply_threshold <= 1.0:
        raise ValueError(f"reply threshold must be between 0 and 1 (got {reply_threshold})")
    rec = await store.save_point_policy(platform, server_id, talking_point_id, reply_threshold, review_only, actor)
    detector.set_point_policy(server_id or None, talking_point_id, _policy_of(reply_threshold, review_only))
    return rec


async def clear_point_policy(
    store: SqliteDashboardRepository, detector: LearningDetector, *, platform: str, server_id: str,
    talking_point_id: str,
) -> bool:
    removed = await store.delete_point_policy(platform, server_id, talking_point_id)
    detector.set_point_policy(server_id or None, talking_point_id, None)
    return removed


# ------------------------------------------------------------------------------------------ start-up


async def restore_learning(db, detector: LearningDetector) -> int:
    """Load the stored exemplars and point policies into ``detector``. Returns how many were applied
    (exemplars not yet loaded into this detector + policies). Call once after building the app."""
    store = SqliteDashboardRepository(db)
    exemplars = await store.active_exemplars()
    # exemplars learned before vectors were stored: keep their vector now, so a later purge of the text loses nothing
    backfilled = []
    for e in exemplars:
        if e.embedding is None and e.text:
            vector = await asyncio.to_thread(_embedding_bytes, detector, e.text)
            if vector is not None:
                await store.set_exemplar_embedding(e.id, vector)
                e = replace(e, embedding=vector)
        backfilled.append(e)
    added = await asyncio.to_thread(_add, detector, backfilled)
    policies = await store.list_point_policies()
    for p in policies:
        detector.set_point_policy(p.server_id or None, p.talking_point_id, _policy_of(p.reply_threshold, p.review_only))
    if added or policies:
        log.info("restored %d learned exemplars and %d point policies", added, len(policies))
    return added + len(policies)


__all__ = [
    "LearningSync",
    "LearnResult",
    "VerdictLearner",
    "clear_point_policy",
    "incident_language",
    "restore_learning",
    "set_point_policy",
    "verdict_polarity",
]


# ------------------------------------------------------------------------------- other processes' changes


class LearningSync:
    """Applies learning changes another process made (verdicts -> exemplars, point policies) to this detector.

    ``server_id=None`` reloads every server (SQLite's change counter says only "something changed")."""

    def __init__(self, store: SqliteDashboardRepository, detector: LearningDetector) -> None:
        self.store = store
        self.detector = detector
        self._learner = VerdictLearner(store, detector)
        self._policies: set[tuple[str | None, str]] = set()

    async def exemplars(self, server_id: str | None) -> None:
        if server_id is not None:
            if not await self._learner._forget(server_id):
                await asyncio.to_thread(_add, self.detector, await self.store.active_exemplars(server_id))
            return
        active = await self.store.active_exemplars()
        servers = {e.server_id for e in active} | {k[0] for k in _loaded_keys(self.detector)}
        for server in sorted(servers):
            await self.exemplars(server)

    async def policies(self) -> None:
        current: set[tuple[str | None, str]] = set()
        for p in await self.store.list_point_policies():
            key = (p.server_id or None, p.talking_point_id)
            current.add(key)
            self.detector.set_point_policy(key[0], key[1], _policy_of(p.reply_threshold, p.review_only))
        for server_id, tp in self._policies - current:
            self.detector.set_point_policy(server_id, tp, None)
        self._policies = current
