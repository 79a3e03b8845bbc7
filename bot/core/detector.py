"""From a chat message to a decision: gate -> retrieval (lexical + semantic) -> stance -> policy.

1. Normalise (defeat evasion) and detect the language.
2. Cheap gate: does the message contain any topical stem of any loaded talking point? Ordinary chatter
   stops here and never reaches the encoder.
3. Retrieval: BM25 over per-talking-point documents (keywords, claim, exemplars) plus cosine similarity of the
   multilingual sentence embedding to every exemplar and claim. The best talking point wins.
4. Stance for the best talking point (see :mod:`bot.core.stance`).
5. Policy: ``reply`` only for a confident assertion, ``review`` for plausible but uncertain ones, ``none``
   otherwise. Refutations, reports and questions never reply; questions are never incidents.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .lang import detect_language
from .models import Action, Decision, Explanation, Stance, TalkingPoint
from .normalize import normalize
from .policy import Evidence, Thresholds, decide
from .ports import Encoder
from .retrieval import STEM_CHARS, HybridIndex, content_tokens, stem, stems as _stems
from .verifier import Verifier, centered, lead, load_verifier, signals, topic_direction
from .spans import (MAX_SPANS, NEIGHBOUR_ALWAYS_CONTRARY, NEIGHBOUR_CONTRARY_IF_ON_CLAIM, SPAN_MIN_CHARS,
                    candidate_spans, comments_on_claim, own_words, sentences)
from .stance import (
    CUES,
    STANCE_INDEX,
    STANCES,
    StanceModel,
    build_features,
    cue_features,
    knn_features,
    knn_from_sims,
)
from .calibrator import StanceCalibrator, argues_back, load_calibrator
from .narratives import CONTRARY_CUES

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
GENERIC_STANCE_FILES = (DATA_DIR / "stance_train.jsonl", DATA_DIR / "stance_train_2.jsonl")
MODEL_VERSION = "stance-v2"


@dataclass(frozen=True)
class Span:
    """A sentence span of a long message that passed the gate (see :mod:`bot.core.spans`)."""

    text: str  # normalised
    stems: list[str]
    bounds: tuple[int, int]  # character offsets in the message as received
    neighbours: tuple[str, ...] = ()  # the sentence on each side, as written (normalised only if this span is chosen)
    single: bool = True  # one sentence (False: two neighbouring sentences)
    lead: int = 0  # how many of ``neighbours`` come before the span (0 or 1)


@dataclass(frozen=True)
class Neighbour:
    """A sentence next to a matched span, normalised."""

    text: str
    on_claim: bool  # it comments on the span's claim (bot.core.spans.comments_on_claim)


@dataclass(frozen=True)
class Prepared:
    """A message after the cheap steps (normalisation, language, gate)."""

    text: str  # normalised (the author's own words: quoted lines are left out)
    language: str
    stems: list[str]
    passed: bool  # True if the gate let it through to the encoder
    spans: tuple[Span, ...] = ()  # sentence spans of a long message, also scored
    quote_only: bool = False  # the message only quotes someone: never a card
    quoted: bool = False  # the message quoted someone (the text above is then the author's answer)

    @property
    def answers_quote(self) -> bool:
        """The text is the author's answer to a quote. A message that is nothing but a quote has no answer: its
        text is the quoted words themselves, which the stance calibrator must not read as a rebuttal of them."""
        return self.quoted and not self.quote_only


@dataclass(frozen=True)
class PointPolicy:
    """An admin's setting for one talking point (on one server, or everywhere when server_id is None)."""

    reply_threshold: float | None = None  # overrides Thresholds.reply for this point
    review_only: bool = False  # never reply for this point; what would reply goes to review


@dataclass
class _ServerOverlay:
    """Moderator verdicts turned into exemplars for one server (see issue #5)."""

    emb: list[np.ndarray] = field(default_factory=list)
    tp: list[int] = field(default_factory=list)
    positive: list[bool] = field(default_factory=list)


class Detector:
    """Thread-safe after construction; ``check`` never mutates shared state (server overlays are guarded)."""

    NEAR_DUPLICATE = 0.90  # cosine at which a moderator's verdict on a message applies to a new one

    def __init__(
        self,
        registry,
        encoder: Encoder,
        talking_points: Sequence[TalkingPoint],
        tp_emb: dict[str, np.ndarray],
        model: StanceModel,
        thresholds: Thresholds = Thresholds(),
        gate: tuple[frozenset[str], frozenset[str], frozenset[str]] | None = None,
        verifier: Verifier | None = None,
        calibrator: StanceCalibrator | None = None,
    ) -> None:
        self.registry = registry
        self.calibrator = calibrator
        self.verifier = verifier
        self._encoder_name = getattr(encoder, "name", type(encoder).__name__)
        self.encoder = encoder
        self.thresholds = thresholds
        self.model = model
        self.tps = list(talking_points)
        self.tp_index = {tp.id: i for i, tp in enumerate(self.tps)}
        ex_tp, ex_stance, ex_text = [], [], []
        for i, tp in enumerate(self.tps):
            for ex in tp.exemplars:
                ex_tp.append(i)
                ex_stance.append(STANCE_INDEX[ex.stance])
                ex_text.append(ex.text)
        self.ex_tp = np.array(ex_tp, dtype=np.int32)
        self.ex_stance = np.array(ex_stance, dtype=np.int32)
        self.ex_text = ex_text
        self.ex_emb = tp_emb["exemplars"]
        self.claim_emb = tp_emb["claims"]
        self._by_tp = [np.flatnonzero(self.ex_tp == i) for i in range(len(self.tps))]
        self._by_tp_stance = [[ix[self.ex_stance[ix] == s] for s in range(len(STANCES))] for ix in self._by_tp]
        self.tp_pack = np.array([tp.pack_id for tp in self.tps])
        # gate stems, gate phrases, and keywords matched as the start of a word (see prefix_keywords)
        self.gate_vocab, self.gate_phrases, self._prefix_keys = gate if gate is not None else word_lists(self.tps)
        self._prefix_by_head = prefix_index(self._prefix_keys)
        docs = [point_document(tp, self._prefix_keys) for tp in self.tps]  # the lexical side
        n_ex = len(self.ex_tp)
        self.index = HybridIndex(
            np.concatenate([self.ex_tp, np.arange(len(self.tps))]),
            np.concatenate([self.ex_emb, self.claim_emb]) if n_ex else self.claim_emb,
            docs,
            len(self.tps),
        )
        self._specific = specific_vocabulary(self.tps, registry, docs, self._prefix_keys)
        # claim specificity: documents with their pack's topic direction removed (see bot.core.verifier)
        doc_emb = np.concatenate([self.ex_emb, self.claim_emb]) if n_ex else self.claim_emb
        doc_pack = [str(x) for x in self.tp_pack[self.index.doc_keys]]
        self._topics = topic_direction(doc_emb, doc_pack) if len(doc_emb) else {}
        self._pack_rows = {pack: np.asarray(doc_pack) == pack for pack in self._topics}
        self._centered_docs = np.zeros_like(doc_emb)
        for pack, direction in self._topics.items():
            rows = self._pack_rows[pack]
            self._centered_docs[rows] = centered(doc_emb[rows], direction)
        self._overlays: dict[str, _ServerOverlay] = {}
        self._policies: dict[tuple[str | None, str], PointPolicy] = {}
        self._lock = threading.Lock()
        self.narratives = False  # True: unmatched on-topic messages carry their vector and P(assert)

    # ------------------------------------------------------------------ construction

    @staticmethod
    def cache_path(registry, encoder: Encoder, cache_dir: Path | None = None) -> Path:
        """The file a detector for ``registry`` and ``encoder`` is cached in (it may not exist yet)."""
        return _cache_file(Path(cache_dir or default_cache_dir()), _cache_key(registry, encoder))

    @classmethod
    def build(cls, registry, config=None, *, encoder: Encoder | None = None, cache_dir: Path | None = None) -> "Detector":
        """Train (or load from cache, keyed by the packs' fingerprint) and return a detector."""
        from .encoders import default_encoder

        encoder = encoder or default_encoder()
        thresholds = Thresholds(
            reply=getattr(config, "reply_threshold", Thresholds.reply),
            review=getattr(config, "review_threshold", Thresholds.review),
            match=getattr(config, "match_threshold", Thresholds.match),
            reply_match=getattr(config, "reply_match_threshold", Thresholds.reply_match),
        )
        tps = list(registry.talking_points())
        cache_dir = cache_dir or getattr(config, "cache_dir", None) or default_cache_dir()
        key = _cache_key(registry, encoder)
        cached = _load_cache(cache_dir, key)
        if cached is not None:
            tp_emb, model, gate = cached
        else:
            tp_emb = _embed_pack(tps, encoder)
            model = train_stance_model(tps, tp_emb, encoder)
            gate = word_lists(tps)
            _save_cache(cache_dir, key, tp_emb, model, gate)
        return cls(registry, encoder, tps, tp_emb, model, thresholds, gate, load_verifier(), load_calibrator())

    # ------------------------------------------------------------------ public API

    def _keys(self, normalized_text: str, st: list[str]) -> list[str]:
        """What retrieval compares of a text that passed the gate (``st``: its content stems): :func:`word_keys`."""
        return word_keys(normalized_text, self._prefix_by_head) if self._prefix_by_head else st

    def _gate_stems(self, stems: list[str]) -> bool:
        if any(s in self.gate_vocab for s in stems):
            return True
        return bool(self.gate_phrases) and any(f"{a} {b}" in self.gate_phrases for a, b in zip(stems, stems[1:]))

    def check(
        self,
        text: str,
        lang: str | None = None,
        *,
        server_id: str | None = None,
        disabled_packs: tuple[str, ...] = (),
    ) -> Decision:
        return self.check_many([text], [lang], server_id=server_id, disabled_packs=disabled_packs)[0]

    def check_many(
        self,
        texts: Sequence[str],
        langs: Sequence[str | None] | None = None,
        *,
        server_id: str | None = None,
        disabled_packs: tuple[str, ...] = (),
    ) -> list[Decision]:
        """Decide for several messages at once (one batched encoder call for those past the gate)."""
        langs = list(langs) if langs is not None else [None] * len(texts)
        prepared = [self.prepare(t, lang) for t, lang in zip(texts, langs)]
        return self.decide_prepared([(p, server_id, disabled_packs) for p in prepared])

    def prepare(self, text: str, lang: str | None = None) -> Prepared:
        """The cheap part, done inline by the service: normalise, detect language, run the gate.

        Quoted lines are not the author's words and are left out; a long message is also cut into sentence
        spans, and those that pass the gate are scored beside the whole (see :mod:`bot.core.spans`)."""
        text = text if isinstance(text, str) else str(text)
        scope = own_words(text)
        norm = normalize(scope.text)
        stems = _stems(norm.text)
        passed = self._gate_stems(stems)
        if passed:
            stems = self._keys(norm.text, stems)
        spans = self._spans(text) if passed and len(norm.text) >= SPAN_MIN_CHARS else ()
        return Prepared(norm.text, lang or detect_language(scope.text), stems, passed, spans, scope.quote_only, scope.quoted)

    def _spans(self, raw: str) -> tuple[Span, ...]:
        bounds = sentences(raw, skip_quotes=True)
        out: list[Span] = []
        on_topic: dict[int, bool] = {}  # sentence index -> it passed the gate on its own
        for lo, hi in candidate_spans(len(bounds)):
            if hi - lo > 1 and not all(on_topic.get(i) for i in range(lo, hi)):
                continue  # a pair is for a claim spread over two on-topic sentences, not a claim and small talk
            a, b = bounds[lo][0], bounds[hi - 1][1]
            norm = normalize(raw[a:b]).text
            st = _stems(norm)
            passed = self._gate_stems(st)
            if hi - lo == 1:
                on_topic[lo] = passed
            if passed:
                nb = tuple(raw[x:y] for x, y in (bounds[lo - 1] if lo > 0 else (0, 0),
                                                    bounds[hi] if hi < len(bounds) else (0, 0)) if y > x)
                out.append(Span(norm, self._keys(norm, st), (a, b), nb, hi - lo == 1,
                                int(lo > 0 and bounds[lo - 1][1] > bounds[lo - 1][0])))
                if len(out) >= MAX_SPANS:
                    break
        return tuple(out)

    def gated_decision(self, p: Prepared) -> Decision:
        """The decision for a message the gate kept away from the encoder."""
        return self._nothing(p.language, gated=True, reason="no topical words (cheap gate)")

    def decide_prepared(self, items: Sequence[tuple[Prepared, str | None, tuple[str, ...]]]) -> list[Decision]:
        """The expensive part for a batch of (prepared message, server id, disabled packs): one encoder call."""
        to_encode = [t for p, _, _ in items if p.passed for t in (p.text, *(s.text for s in p.spans))]
        emb = self.encoder.encode(to_encode) if to_encode else np.zeros((0, 0), dtype=np.float32)
        out, j = [], 0
        for p, server_id, disabled_packs in items:
            if not p.passed:
                out.append(self.gated_decision(p))
                continue
            n = 1 + len(p.spans)
            out.append(self._decide(p, emb[j:j + n], self._allowed_mask(disabled_packs), server_id))
            j += n
        return out

    def exemplar_embedding(self, text: str) -> np.ndarray:
        """The vector a learned exemplar is stored as (so it can outlive the message text)."""
        return self.encoder.encode([normalize(text).text])[0]

    def add_server_exemplar(self, server_id: str, talking_point_id: str, text: str, positive: bool,
                            embedding: np.ndarray | None = None) -> None:
        """A moderator verdict: a confirmed (positive) or false-positive (negative) message for one server.
        Takes effect on the next message, without a restart. ``embedding`` (from :meth:`exemplar_embedding`)
        is used when given, so an exemplar whose text was purged still works."""
        if talking_point_id not in self.tp_index:
            return
        if embedding is not None:
            q = np.asarray(embedding, dtype=np.float32).reshape(-1)
            if q.shape != (self.ex_emb.shape[1],) or not np.isfinite(q).all():
                raise ValueError(f"exemplar embedding has shape {q.shape}, expected ({self.ex_emb.shape[1]},)")
        else:
            q = self.exemplar_embedding(text)
        with self._lock:
            ov = self._overlays.setdefault(server_id, _ServerOverlay())
            ov.emb.append(q)
            ov.tp.append(self.tp_index[talking_point_id])
            ov.positive.append(positive)

    def clear_server_exemplars(self, server_id: str) -> None:
        """Forget a server's learned exemplars (they are then reloaded from storage after a changed verdict)."""
        with self._lock:
            self._overlays.pop(server_id, None)

    def set_point_policy(self, server_id: str | None, talking_point_id: str, policy: PointPolicy | None) -> None:
        """Set (or clear, with None) a per-point reply threshold / review-only switch. Effective immediately."""
        with self._lock:
            if policy is None:
                self._policies.pop((server_id, talking_point_id), None)
            else:
                self._policies[(server_id, talking_point_id)] = policy

    def point_policy(self, server_id: str | None, talking_point_id: str) -> PointPolicy | None:
        with self._lock:
            return self._policies.get((server_id, talking_point_id)) or self._policies.get((None, talking_point_id))

    # ------------------------------------------------------------------ internals

    def _allowed_mask(self, disabled_packs: tuple[str, ...]) -> np.ndarray:
        if not disabled_packs:
            return np.ones(len(self.tps), dtype=bool)
        return ~np.isin(self.tp_pack, list(disabled_packs))

    def _nothing(self, language: str, *, gated: bool, reason: str, semantic: float = 0.0, lexical: float = 0.0,
                 match: float = 0.0, vector: np.ndarray | None = None) -> Decision:
        expl = Explanation(None, None, {}, semantic, lexical, match, None, None, gated, reason, language)
        # no talking point, so nothing is asserted: the score (P that the author asserts the point) is 0; the
        # closest point's match stays in the explanation
        return Decision(Action.NONE, None, None, 0.0, expl, lang=language, vector=vector)

    def _retrieve(self, q: np.ndarray, stems: list[str], allowed: np.ndarray):
        """Cosines to every document (exemplars, then one claim per talking point) and per-point scores."""
        sc = self.index.score(q, stems)
        match = sc.fused.copy()
        match[~allowed] = 0.0
        return sc.doc_sims, sc.semantic, sc.lexical, match

    def _centered_best(self, q: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        """Per talking point, the best cosine between ``q`` and its documents, both without the pack's topic."""
        sims = np.empty(len(self._centered_docs), dtype=np.float32)
        for pack, direction in self._topics.items():
            rows = self._pack_rows[pack]
            sims[rows] = self._centered_docs[rows] @ centered(q, direction)
        best = self.index.best_per_key(sims)
        best[~allowed] = -1.0
        return best

    def _genre(self, p: Prepared, qs: np.ndarray, pick: int) -> float:
        """The verifier's genre score. It was trained on whole messages. When a span of a long message is decided
        on, the whole message's genre counts as much as the message is on topic, the matched span's for the rest:
        a news article or an address, on topic throughout, stays news even where one sentence reads like a claim;
        a claim among small talk stays a claim (the small talk says nothing about the claim's genre)."""
        if self.verifier is None:
            return 0.0
        whole = self.verifier.genre(qs[0], self._encoder_name)
        if pick == 0:
            return whole
        w = on_topic_share(p)
        return w * whole + (1.0 - w) * self.verifier.genre(qs[pick], self._encoder_name)

    def _decide(self, p: Prepared, qs: np.ndarray, allowed, server_id) -> Decision:
        """Decide on the best-matching of the whole message and its spans (``qs``: their embeddings, whole first)."""
        t = self.thresholds
        language = p.language
        scored = [self._retrieve(q, stems, allowed) for q, stems in zip(qs, (p.stems, *(s.stems for s in p.spans)))]
        pick = max(range(len(scored)), key=lambda k: float(scored[k][3].max()))
        doc_sims, sem, lex, match = scored[pick]
        span = p.spans[pick - 1] if pick else None
        around = self.neighbours(span)  # read once: by the no-card rule and the stance calibrator
        norm_text, q = (span.text if span else p.text), qs[pick]
        n_ex = len(self.ex_tp)
        sims = doc_sims[:n_ex]
        order = np.argsort(-match)
        best = int(order[0])
        candidates = tuple((self.tps[int(i)].id, round(float(match[i]), 4)) for i in order[:3])
        m = float(match[best])
        tp = self.tps[best]

        def unmatched(reason: str) -> Decision:
            nothing = self._nothing(language, gated=False, reason=f"closest talking point {tp.id} scored {m:.2f}"
                                    f"{reason}", semantic=float(sem[best]), lexical=float(lex[best]), match=m,
                                    vector=qs[0])
            return self._narrative_fields(nothing, q, norm_text, best, doc_sims) if self.narratives else nothing

        if m < t.match:
            return unmatched(f" (< {t.match:.2f})")
        specific = self._specific[best]
        if specific is not None and not specific.intersection(span.stems if span else p.stems):
            return unmatched(", but the message shares no word with it beyond the topic's background vocabulary")
        idx = self._by_tp[best]
        knn = knn_from_sims(sims, self._by_tp_stance[best], float(doc_sims[n_ex + best]))
        cues = cue_features(norm_text)
        probs = self.model.predict_proba(build_features(q, knn, cues), norm_text)
        near = int(idx[np.argmax(sims[idx])]) if len(idx) else None
        cen = self._centered_best(q, allowed)
        named = signals(match=m, semantic=float(sem[best]), lexical=float(lex[best]),
                        claim=float(doc_sims[n_ex + best]), centered_best=float(cen[best]),
                        centered_margin=lead(cen, best), margin=lead(np.where(allowed, sem, -1.0), best),
                        knn=knn, probs=probs, cues=cues, chars=len(norm_text),
                        genre=self._genre(p, qs, pick))
        verified = self.verifier.probability(named) if self.verifier is not None else None
        policy = self.point_policy(server_id, tp.id) if self._policies else None
        v = decide(
            Evidence(
                match=m,
                probs={s: float(p) for s, p in zip(STANCES, probs)},
                nearest_stance=STANCES[int(self.ex_stance[near])] if near is not None else None,
                verdict=self._overlay_verdict(server_id, q, best),
                reply_threshold=policy.reply_threshold if policy else None,
                review_only=bool(policy and policy.review_only),
                # read only when it can matter: the policy posts a card (or promotes a review) only when the
                # stance model's top stance is assert
                no_reply=_no_reply_reason(p, span, around) if int(np.argmax(probs)) == STANCES.index(Stance.ASSERT)
                else None,
                verified=verified,
                p_refute=self.calibrator.probability(*self.calibrator_view(p, span, named, around),
                                                 quoted=p.answers_quote)
                if self.calibrator is not None else None,
                refute_cut=self.calibrator.cut if self.calibrator is not None else None,
                promote=self.calibrator.promote if self.calibrator is not None else None,
            ),
            t,
            self.verifier.thresholds(language) if self.verifier is not None else None,
        )
        stance, score, action, is_incident, reason = v.stance, v.score, v.action, v.is_incident, v.reason
        if span is not None:
            reason += f" (decided on the sentence at characters {span.bounds[0]}-{span.bounds[1]})"
        answer = v.answer_question

        expl = Explanation(
            talking_point_id=tp.id,
            stance=stance,
            stance_probs={s.value: round(float(p), 4) for s, p in zip(STANCES, probs)},
            semantic_score=round(float(sem[best]), 4),
            lexical_score=round(float(lex[best]), 4),
            match_score=round(m, 4),
            nearest_exemplar=self.ex_text[near] if near is not None else None,
            nearest_exemplar_stance=STANCES[int(self.ex_stance[near])] if near is not None else None,
            gated=False,
            reason=reason,
            language=language,
            span=span.bounds if span else None,
            signals=named if verified is None else {**named, "verified": round(verified, 4)},
        )
        d = Decision(action, tp.id, stance, round(score, 4), expl, lang=language, is_incident=is_incident,
                     answer_question=answer, candidates=candidates, vector=qs[0])
        if self.narratives and action is Action.NONE and stance is Stance.ASSERT and not is_incident:
            # close to a point, but the policy/verifier says it is not that point: no talking point covers it
            d = dataclasses.replace(d, claim_vector=q, p_assert=round(float(probs[STANCES.index(Stance.ASSERT)]), 4))
        return d

    def neighbours(self, span: Span | None) -> tuple[Neighbour, ...]:
        """The sentences next to a matched span, normalised once per decision (read by the no-card rule and the
        stance calibrator), each with whether it comments on the span's claim (:func:`comments_on_claim`)."""
        if span is None:
            return ()
        out = []
        for raw in span.neighbours:
            norm = normalize(raw).text
            st = _stems(norm)
            out.append(Neighbour(norm, comments_on_claim(span.stems, st, len(norm), self._gate_stems(st))))
        return tuple(out)

    def calibrator_view(self, p: Prepared, span: Span | None, named: dict,
                        around: tuple[Neighbour, ...] | None = None) -> tuple[dict, str]:
        """What the stance calibrator reads for a decision: the signals and the text.

        For a whole message, the message. For a span of a long message, the span with the sentences next to it that
        comment on its claim (:func:`bot.core.spans.comments_on_claim`), in reading order, and the cue counts of
        that text: a rebuttal in the next sentence belongs to the claim, a "Sure." or a question in unrelated small
        talk two paragraphs away does not (the whole message was read before, so such small talk could drop the
        claim's review)."""
        text = p.text
        if span is not None:
            parts = [span.text]
            for k, nb in enumerate(self.neighbours(span) if around is None else around):
                if nb.on_claim:
                    parts.insert(0 if k < span.lead else len(parts), nb.text)
            text = " ".join(parts)
            if len(parts) > 1:
                named = {**named, **{f"cue_{name}": float(v) for (name, _), v in zip(CUES, cue_features(text))}}
        return named, text

    def _narrative_fields(self, d: Decision, q: np.ndarray, norm_text: str, best: int, doc_sims) -> Decision:
        """An unmatched on-topic decision with the claim's sentence vector and P(assert) (stance model, nearest point)."""
        knn = knn_from_sims(doc_sims[:len(self.ex_tp)], self._by_tp_stance[best], float(doc_sims[len(self.ex_tp) + best]))
        probs = self.model.predict_proba(build_features(q, knn, cue_features(norm_text)), norm_text)
        return dataclasses.replace(d, claim_vector=q, p_assert=round(float(probs[STANCES.index(Stance.ASSERT)]), 4))

    def _overlay_verdict(self, server_id: str | None, q: np.ndarray, tp_i: int) -> bool | None:
        """True/False if moderators ruled on a near-identical message for this point on this server."""
        if not server_id:
            return None
        with self._lock:
            ov = self._overlays.get(server_id)
            if ov is None or not ov.emb:
                return None
            emb = np.stack(ov.emb)
            tps = np.array(ov.tp)
            pos = np.array(ov.positive)
        sims = emb @ q
        mask = (tps == tp_i) & (sims >= self.NEAR_DUPLICATE)
        if not mask.any():
            return None
        return bool(pos[mask][np.argmax(sims[mask])])


def on_topic_share(p: Prepared) -> float:
    """The share of a long message (normalised characters) in its sentences that pass the gate on their own."""
    return min(1.0, sum(len(s.text) for s in p.spans if s.single) / max(1, len(p.text)))


# Cue families that, found in a sentence next to a matched span (and not in the span), say the author argues with
# or attributes it: some always, some only when that sentence comments on the span's claim (bot.core.spans).
_CONTRARY_ALWAYS = np.array([name in NEIGHBOUR_ALWAYS_CONTRARY for name, _ in CUES])
_CONTRARY_ON_CLAIM = np.array([name in NEIGHBOUR_CONTRARY_IF_ON_CLAIM for name, _ in CUES])
# Reported speech ("this post is saying ...", "говорят, что ...", "мовляв", "heißt es"): the author passes on what
# others claim. Such a message may be reviewed, never answered with a card (precision first); the stance model's own
# attribution cue is broader (any mention of the Kremlin or a ministry) and only weighs in.
REPORTED_SPEECH = CONTRARY_CUES["attribution"]
# A hypothetical ("if the plant blows up, it would be game over", "если бы ..., то ... бы", "якби", "wenn ... wäre"):
# the author reasons about what could or would have happened, in either direction, rather than asserting the point.
# Such a message may be reviewed, never answered with a card. Within one sentence (no . ! ? or line break between)
# and 160 characters, so hostile text ("if if if ...") costs a bounded scan per word, not the rest of the message.
HYPOTHETICAL = re.compile(
    r"(\bif\b[^.!?\n]{0,160}?\b(would|wouldn'?t)\b|\b(would|wouldn'?t)\b[^.!?\n]{0,160}?\bif\b|"
    r"\bесли бы\b|\bесли\b[^.!?\n]{0,160}?\bбы\b|\bбы\b[^.!?\n]{0,160}?\bесли\b|\bякби\b|\bякщо б\b|"
    r"\b(wenn|falls)\b[^.!?\n]{0,160}?\b(würde|wäre|hätte)\w*|"
    r"\b(würde|wäre|hätte)\w*\b[^.!?\n]{0,160}?\b(wenn|falls)\b)",
    re.IGNORECASE)


def _no_reply_reason(p: Prepared, span: Span | None, around: tuple[Neighbour, ...]) -> str | None:
    """Why a confident assertion must not earn a card here (a moderator still sees it), or None. ``around``: the
    span's neighbouring sentences (:meth:`Detector.neighbours`)."""
    if p.quote_only:
        return "the message only quotes someone"
    text = span.text if span is not None else p.text

    def found(find: Callable[[str], str | None]) -> str | None:
        """What ``find`` finds in the decided text or, for a span, in a neighbouring sentence on its claim."""
        hit = find(text)
        if hit is None and span is not None:
            hit = next((h for nb in around if nb.on_claim for h in [find(nb.text)] if h is not None), None)
        return hit

    said = found(lambda s: (m := REPORTED_SPEECH.search(s)) and m.group(0))
    if said is not None:
        return f"the message may report what others say ('{said}')"
    if HYPOTHETICAL.search(text[:2000]):
        return "it reasons from a hypothetical ('if ... would')"
    back = found(argues_back)
    if back is not None:
        return f"its wording argues back ('{back}')"
    if span is not None:
        own = cue_features(span.text)
        for nb in around:
            extra = cue_features(nb.text) - own
            if (extra[_CONTRARY_ALWAYS] > 0).any() or (nb.on_claim and (extra[_CONTRARY_ON_CLAIM] > 0).any()):
                return "the sentences around the matched span may argue with it or attribute it"
    return None


# ---------------------------------------------------------------------------------------- training


def _generic_examples() -> list[dict]:
    """The generic stance training messages (claims on other topics than any shipped pack)."""
    rows = []
    for path in GENERIC_STANCE_FILES:
        if path.exists():
            with path.open(encoding="utf-8") as f:
                rows += [json.loads(line) for line in f if line.strip()]
    return rows


GATE_MAX_ZIPF = 4.6  # words more frequent than this (in en, ru, uk or de) do not open the gate on their own
GATE_LANGS = ("en", "ru", "uk", "de")


def word_lists(tps: Sequence[TalkingPoint]) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """What the cheap gate and the stemmer read from the packs, built once (wordfreq loads slowly) and cached with the
    detector: :func:`gate_vocabulary` and :func:`prefix_keywords`."""
    return (*gate_vocabulary(tps), prefix_keywords(tps))


def gate_vocabulary(tps: Sequence[TalkingPoint]) -> tuple[frozenset[str], frozenset[str]]:
    """Stems (and keyword stem bigrams) that open the cheap gate.

    Every word of the claims, exemplars and keywords counts, except words that are frequent in general
    language (wordfreq's Zipf frequency >= GATE_MAX_ZIPF in any of GATE_LANGS): "help", "today", "знає" do not
    send ordinary chat to the encoder, "biolab", "санкции", "butscha" do. Single-word keywords always count;
    a multi-word keyword ("dirty bomb") counts as the phrase.
    """
    import wordfreq  # build time only

    def common(token: str) -> bool:
        bare = token.split("'")[0].split("’")[0]
        return max(max(wordfreq.zipf_frequency(t, lang) for lang in GATE_LANGS) for t in {token, bare}) >= GATE_MAX_ZIPF

    def topical(text: str) -> list[str]:
        return content_tokens(normalize(text).text)

    vocab: set[str] = set()
    phrases: set[str] = set()
    for tp in tps:
        for kw in tp.keywords:
            toks = topical(kw)
            if len(toks) == 1:
                vocab.add(stem(toks[0]))
            elif len(toks) > 1:
                vocab.update(stem(t) for t in toks if not common(t))
                phrases.update(f"{stem(a)} {stem(b)}" for a, b in zip(toks, toks[1:]))
        for text in [tp.claim, *(e.text for e in tp.exemplars)]:
            vocab.update(stem(t) for t in set(topical(text)) if not common(t))
    return frozenset(vocab), frozenset(phrases)


def prefix_index(prefix_keys: frozenset[str]) -> dict[str, tuple[str, ...]]:
    """Word-start keys by their first PREFIX_KEY_MIN letters, longest first (for :func:`word_keys`)."""
    out: dict[str, tuple[str, ...]] = {}
    for k in sorted(prefix_keys, key=lambda k: (-len(k), k)):
        out[k[:PREFIX_KEY_MIN]] = (*out.get(k[:PREFIX_KEY_MIN], ()), k)
    return out


def word_keys(normalized_text: str, by_head: dict[str, tuple[str, ...]]) -> list[str]:
    """How retrieval compares the content words of a text, message or pack alike: a word that begins with a
    word-start key (:func:`prefix_keywords`, indexed by :func:`prefix_index`) is that key, the longest one; any other
    word is its stem. One key per word, so a keyword and the same word in an exemplar stay one term."""
    out = []
    for t in content_tokens(normalized_text):
        keys = by_head.get(t[:PREFIX_KEY_MIN], ())
        out.append(next((k for k in keys if t.startswith(k)), stem(t)))
    return out


def point_document(tp: TalkingPoint, prefix_keys: frozenset[str] = frozenset()) -> Counter:
    """A talking point's lexical document: the keys (:func:`word_keys`) of its keywords (weighing most), claim and
    exemplars (all but those labelled *other*)."""
    by_head = prefix_index(prefix_keys)
    c: Counter = Counter()
    for kw in tp.keywords:
        c.update(word_keys(normalize(kw).text, by_head) * 3)
    c.update(word_keys(normalize(tp.claim).text, by_head) * 2)
    for ex in tp.exemplars:
        if ex.stance is not Stance.OTHER:
            c.update(word_keys(normalize(ex.text).text, by_head))
    return c


PREFIX_KEY_MIN = 4  # a keyword this long (and shorter than a stem) may be the start of a word
PREFIX_KEY_MAX_ZIPF = 2.0  # ... when it is no word of its own in any of GATE_LANGS (rarer than this)
COMMON_WORDS_SCANNED = 30_000  # at most this many of a language's most frequent words are read for collisions


def prefix_keywords(tps: Sequence[TalkingPoint]) -> frozenset[str]:
    """Keywords compared whole, as the start of a word, instead of by their stem (:func:`bot.core.retrieval.stem`,
    the first six letters):

    - a keyword shorter than a stem that is no word of its own: "штучн", "рецес", "обіця". A message's word that
      begins with it matches it ("штучна", "рецессия", "обіцяли"); stems are compared whole, so such a keyword matched
      only itself. Short keywords that are words ("state", "стан", "lenin") stay whole words;
    - a longer keyword whose stem begins a common word (Zipf >= GATE_MAX_ZIPF in any of GATE_LANGS) that is another
      word (:func:`_another_word`): "waffenstillstand" (stem "waffen"), "selbstbestimmung" ("selbst"), "weiterverkauf"
      ("weiter"), "большевик" ("больше"), "русскоязыч" ("русского"). By its stem, every "Waffen", "selbst" or
      "больше" was lexical evidence for the point; now a word must begin with the whole keyword.

    The gate keeps the stems (it only decides what is worth encoding)."""
    import wordfreq  # build time only

    common = []
    for lang in GATE_LANGS:
        for w in wordfreq.top_n_list(lang, COMMON_WORDS_SCANNED):  # most frequent first
            if wordfreq.zipf_frequency(w, lang) < GATE_MAX_ZIPF:
                break
            common.append(w)
    out = set()
    for tp in tps:
        for kw in tp.keywords:
            for t in content_tokens(normalize(kw).text):
                if PREFIX_KEY_MIN <= len(t) < STEM_CHARS:
                    if max(wordfreq.zipf_frequency(t, lang) for lang in GATE_LANGS) < PREFIX_KEY_MAX_ZIPF:
                        out.add(t)
                elif len(t) > STEM_CHARS and any(_another_word(t, w) for w in common if w.startswith(stem(t))):
                    out.add(t)
    return frozenset(out)


def keyword_notes(tps: Sequence[TalkingPoint]) -> list[str]:
    """For pack authors (``packs validate``): the keywords compared as the start of a word rather than by their first
    six letters (:func:`prefix_keywords`), one line each."""
    keys = prefix_keywords(tps)
    out = []
    for tp in tps:
        for kw in tp.keywords:
            for t in content_tokens(normalize(kw).text):
                if t not in keys:
                    continue
                if len(t) < STEM_CHARS:
                    out.append(f"{tp.id}: keyword {kw!r}: '{t}' is no word of its own, so it matches the words that "
                               f"begin with it")
                else:
                    out.append(f"{tp.id}: keyword {kw!r}: '{t[:STEM_CHARS]}…' also begins common words of another "
                               f"meaning, so a message's word must begin with '{t}' in full")
    return out


def _another_word(keyword: str, word: str) -> bool:
    """Whether ``word`` (sharing the keyword's stem) is another word, not a form of it: the keyword goes on for more
    than two letters past where they part ("waffenstillstand" / "waffen", "большевик" / "больше", "искусственн" /
    "искусство"; not "elections" / "election")."""
    common = len(os.path.commonprefix([keyword, word]))
    return len(keyword) - common > 2


def specific_vocabulary(tps: Sequence[TalkingPoint], registry, docs: Sequence[Counter] | None = None,
                        prefix_keys: frozenset[str] = frozenset()) -> list[frozenset[str] | None]:
    """Per talking point, the stems that are evidence for it beyond its pack's background vocabulary (pack.yaml
    ``background``: the words the topic's genuine news and discussion use all the time), or None when the pack
    lists no background. A message must share at least one of them with the talking point to match it: one of its
    keywords (the pack author's choice, background or not), or a word of its document (:func:`point_document`,
    given as ``docs`` when already built) that is not background. "Russia invaded Ukraine." shares only background
    words with "NATO's eastward expansion ... left it no choice but to invade Ukraine" and matches nothing."""
    background_of: dict[str, frozenset[str]] = {}
    by_head = prefix_index(prefix_keys)
    out: list[frozenset[str] | None] = []
    for i, tp in enumerate(tps):
        if tp.pack_id not in background_of:
            pack = registry.pack(tp.pack_id) if hasattr(registry, "pack") else None
            background_of[tp.pack_id] = frozenset(
                k for word in (pack.background if pack is not None else ()) for k in word_keys(normalize(word).text, by_head))
        background = background_of[tp.pack_id]
        if not background:
            out.append(None)
            continue
        keywords = {k for kw in tp.keywords for k in word_keys(normalize(kw).text, by_head)}
        words = set(docs[i] if docs is not None else point_document(tp, prefix_keys))
        out.append(frozenset(keywords | (words - background)))
    return out


def _embed_pack(tps: Sequence[TalkingPoint], encoder: Encoder) -> dict[str, np.ndarray]:
    texts = [normalize(ex.text).text for tp in tps for ex in tp.exemplars]
    claims = [normalize(tp.claim).text for tp in tps]
    emb = encoder.encode(texts + claims)
    return {"exemplars": emb[: len(texts)], "claims": emb[len(texts):]}


def training_matrix(
    groups: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, Sequence[str]]],
) -> tuple[np.ndarray, np.ndarray]:
    """Features for each labelled message, its nearest-exemplar evidence taken from the *other* members of its
    group (a talking point or a generic claim), so no example sees itself.

    groups: (message embeddings, stance indices, claim embedding, raw texts)
    Returns (dense features, texts for the n-gram part, labels).
    """
    xs, ts, ys = [], [], []
    for emb, stances, claim, texts in groups:
        for i in range(len(emb)):
            others = np.arange(len(emb)) != i
            knn = knn_features(emb[i], emb[others], stances[others], claim)
            norm = normalize(texts[i]).text  # the same normalised text the detector scores at run time
            xs.append(build_features(emb[i], knn, cue_features(norm)))
            ts.append(norm)
            ys.append(int(stances[i]))
    return np.array(xs, dtype=np.float32), ts, np.array(ys)


def stance_training_groups(tps: Sequence[TalkingPoint], tp_emb: dict[str, np.ndarray], encoder: Encoder,
                           generic: list[dict] | None = None):
    groups = []
    k = 0
    for i, tp in enumerate(tps):
        n = len(tp.exemplars)
        groups.append((tp_emb["exemplars"][k:k + n], np.array([STANCE_INDEX[e.stance] for e in tp.exemplars]),
                       tp_emb["claims"][i], [e.text for e in tp.exemplars]))
        k += n
    generic = _generic_examples() if generic is None else generic
    by_claim: dict[str, list[dict]] = defaultdict(list)
    for row in generic:
        by_claim[row["claim"]].append(row)
    claims = sorted(by_claim)
    if claims:
        texts = [normalize(r["text"]).text for c in claims for r in by_claim[c]]
        emb = encoder.encode(texts + [normalize(c).text for c in claims])
        claim_emb = emb[len(texts):]
        k = 0
        for ci, c in enumerate(claims):
            rows = by_claim[c]
            groups.append((emb[k:k + len(rows)], np.array([STANCE_INDEX[Stance(r["stance"])] for r in rows]),
                           claim_emb[ci], [r["text"] for r in rows]))
            k += len(rows)
    return groups


def train_stance_model(tps: Sequence[TalkingPoint], tp_emb: dict[str, np.ndarray], encoder: Encoder,
                       generic: list[dict] | None = None) -> StanceModel:
    x, texts, y = training_matrix(stance_training_groups(tps, tp_emb, encoder, generic))
    return StanceModel.fit(x, texts, y)


# ---------------------------------------------------------------------------------------- cache


def default_cache_dir() -> Path:
    base = os.environ.get("CONTEXTBOT_CACHE") or os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "contextbot"


def _cache_key(registry, encoder: Encoder) -> str:
    h = hashlib.sha256()
    h.update(MODEL_VERSION.encode())
    h.update(registry.fingerprint().encode())
    h.update(getattr(encoder, "name", type(encoder).__name__).encode())
    for path in GENERIC_STANCE_FILES:
        if path.exists():
            h.update(path.read_bytes())
    for module in ("stance.py", "detector.py", "normalize.py", "retrieval.py"):  # code that shapes the cached artefacts
        h.update(Path(__file__).with_name(module).read_bytes())
    return h.hexdigest()[:24]


def _cache_file(cache_dir: Path, key: str) -> Path:
    return Path(cache_dir) / f"detector-{key}.npz"


def _load_cache(cache_dir: Path, key: str):
    path = _cache_file(cache_dir, key)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as d:
            tp_emb = {"exemplars": d["exemplars"], "claims": d["claims"]}
            model = StanceModel.from_arrays({k: d[k] for k in ("vocab_terms", "idf", "mean", "scale", "coef", "intercept")})
            gate = tuple(frozenset(str(x) for x in d[k] if str(x)) for k in ("gate_vocab", "gate_phrases", "prefix_keys"))
        return tp_emb, model, gate
    except (OSError, KeyError, ValueError) as e:  # a damaged cache is rebuilt, never fatal
        log.warning("ignoring unreadable detector cache %s: %s", path, e)
        return None


def _save_cache(cache_dir: Path, key: str, tp_emb: dict[str, np.ndarray], model: StanceModel,
                gate: tuple[frozenset[str], frozenset[str], frozenset[str]]) -> None:
    try:
        cache_dir = Path(cache_dir)
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f".detector-{key}.{os.getpid()}.npz"
        np.savez(tmp, **tp_emb, **model.to_arrays(), gate_vocab=np.array(sorted(gate[0]), dtype=str),
                 gate_phrases=np.array(sorted(gate[1]) or [""], dtype=str),
                 prefix_keys=np.array(sorted(gate[2]) or [""], dtype=str))
        os.replace(tmp, _cache_file(cache_dir, key))
    except OSError as e:
        log.warning("could not write detector cache in %s: %s", cache_dir, e)
