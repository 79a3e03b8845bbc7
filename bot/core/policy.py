"""Decision policy: from retrieval and stance evidence to reply / review / none. Pure and table-testable.

Invariants (tests/test_policy.py):
- ``reply`` only when the most likely stance is *assert*, its probability clears the reply threshold, the match
  is strong, and the nearest pack exemplar is itself an assertion (two independent signals agree);
- refutations, reports and questions never ``reply``; questions are never incidents;
- everything plausible but uncertain goes to ``review`` for a moderator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .models import Action, Stance


@dataclass(frozen=True)
class Thresholds:
    # Chosen on the odd-numbered half of data/devset.jsonl; the even half is the check (bench/eval_detection.py).
    reply: float = 0.90  # min P(assert) to post a card
    review: float = 0.25  # min P(assert) to log an incident for moderator review
    match: float = 0.48  # min retrieval score to consider a talking point at all
    reply_match: float = 0.60  # min retrieval score to post a card
    ask: float = 0.55  # min P(ask) to treat a message as a question


@dataclass(frozen=True)
class Evidence:
    match: float  # fused retrieval score of the best talking point (0-1)
    probs: Mapping[Stance, float]  # stance probabilities for that talking point
    nearest_stance: Stance | None  # stance label of the nearest pack exemplar
    verdict: bool | None = None  # a moderator's verdict on a near-identical message on this server
    reply_threshold: float | None = None  # per-point override set by an admin
    review_only: bool = False  # per-point switch set by an admin


@dataclass(frozen=True)
class Verdict:
    action: Action
    stance: Stance
    score: float  # P(assert): how confident the bot is that the author asserts the talking point
    is_incident: bool
    reason: str
    answer_question: bool = False  # the card may be offered as an answer (never an incident)


def decide(e: Evidence, t: Thresholds) -> Verdict:
    stance = max(e.probs, key=lambda s: e.probs[s])
    p_assert = float(e.probs.get(Stance.ASSERT, 0.0))
    if e.match < t.match:
        return Verdict(Action.NONE, stance, p_assert, False, f"weak match ({e.match:.2f} < {t.match:.2f})")
    if stance is Stance.ASK and e.probs[Stance.ASK] >= t.ask:
        answer = e.match >= t.reply_match
        return Verdict(Action.NONE, stance, p_assert, False,
                       "a question about the talking point: " + ("the card may answer it; " if answer else "")
                       + "not an incident", answer_question=answer)
    if e.verdict is False:
        return Verdict(Action.NONE, stance, p_assert, False,
                       "moderators marked a near-identical message on this server as a false positive")
    reply_threshold = t.reply if e.reply_threshold is None else e.reply_threshold
    confident = (stance is Stance.ASSERT and p_assert >= reply_threshold and e.match >= t.reply_match
                 and e.nearest_stance is Stance.ASSERT)
    if confident and e.review_only:
        return Verdict(Action.REVIEW, stance, p_assert, True,
                       "confident assertion, but an admin set this talking point to review only")
    if confident:
        return Verdict(Action.REPLY, stance, p_assert, True, "confident assertion of the talking point")
    if p_assert >= t.review:
        why = ("assertion, but not confident enough to reply" if stance is Stance.ASSERT
               else f"looks like '{stance.value}', but an assertion is plausible")
        return Verdict(Action.REVIEW, stance, p_assert, True, f"{why}: moderator review")
    if e.verdict is True and p_assert >= t.review / 2:
        return Verdict(Action.REVIEW, stance, p_assert, True,
                       "moderators confirmed a near-identical message on this server")
    return Verdict(Action.NONE, stance, p_assert, False,
                   f"stance looks like '{stance.value}' (assert probability {p_assert:.2f})")
