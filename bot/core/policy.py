"""Decision policy: from retrieval and stance evidence to reply / review / none. Pure and table-testable.

Invariants (tests/test_policy.py):
- ``reply`` only when the most likely stance is *assert*, its probability clears the reply threshold, the match
  is strong, and the nearest pack exemplar is itself an assertion (two independent signals agree);
- refutations, reports and questions never ``reply``; questions are never incidents;
- everything plausible but uncertain goes to ``review`` for a moderator, unless the stance calibrator
  (bot.core.calibrator) is confident the message argues against the point: then nothing. The calibrator never
  makes a review, and makes a reply only from a would-be review that meets every other reply rule (stance,
  match, nearest exemplar, no admin override or review-only switch, no contrary context) when its P(refute) is
  low and the verifier and stance scores clear the calibrator's own, tuned ``promote`` bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol

from .models import Action, Stance


@dataclass(frozen=True)
class Thresholds:
    # Chosen on the odd-numbered half of data/devset.jsonl; the even half is the check (bench/eval_detection.py).
    reply: float = 0.90  # min P(assert) to post a card
    review: float = 0.25  # min P(assert) to log an incident for moderator review
    match: float = 0.48  # min retrieval score to consider a talking point at all
    reply_match: float = 0.60  # min retrieval score to post a card
    ask: float = 0.55  # min P(ask) to treat a message as a question
    reply_stance: float = 0.70  # with a claim verifier: the stance model's P(assert) must still reach this to reply
    review_stance: float = 0.15  # ... and this to go to review (chosen on the tuning splits, bench/train_verifier.py)


@dataclass(frozen=True)
class Evidence:
    match: float  # fused retrieval score of the best talking point (0-1)
    probs: Mapping[Stance, float]  # stance probabilities for that talking point
    nearest_stance: Stance | None  # stance label of the nearest pack exemplar
    verdict: bool | None = None  # a moderator's verdict on a near-identical message on this server
    reply_threshold: float | None = None  # per-point override set by an admin
    review_only: bool = False  # per-point switch set by an admin
    no_reply: str | None = None  # why this message may not earn a card whatever its scores (it may be reviewed)
    verified: float | None = None  # the claim verifier's probability that the message asserts the point
    p_refute: float | None = None  # the stance calibrator's probability that the message argues against the point
    refute_cut: float | None = None  # P(refute) at which a would-be review is dropped (None: never)
    promote: Mapping[str, float] | None = None  # bounds to make a would-be review a reply (bot.core.calibrator)


@dataclass(frozen=True)
class Verdict:
    action: Action
    stance: Stance
    score: float  # P(assert): how confident the bot is that the author asserts the talking point
    is_incident: bool
    reason: str
    answer_question: bool = False  # the card may be offered as an answer (never an incident)


def decide(e: Evidence, t: Thresholds, verifier: "VerifierThresholds | None" = None) -> Verdict:
    """The action for one message. With a claim verifier (bot.core.verifier) its probability is the score and
    its thresholds apply; without one, the stance model's assert probability and ``t``."""
    stance = max(e.probs, key=lambda s: e.probs[s])
    p_assert = float(e.probs.get(Stance.ASSERT, 0.0))
    score = p_assert if e.verified is None else float(e.verified)
    if e.match < t.match:
        return Verdict(Action.NONE, stance, score, False, f"weak match ({e.match:.2f} < {t.match:.2f})")
    if stance is Stance.ASK and e.probs[Stance.ASK] >= t.ask:
        answer = e.match >= t.reply_match
        return Verdict(Action.NONE, stance, score, False,
                       "a question about the talking point: " + ("the card may answer it; " if answer else "")
                       + "not an incident", answer_question=answer)
    if e.verdict is False:
        return Verdict(Action.NONE, stance, score, False,
                       "moderators marked a near-identical message on this server as a false positive")
    use_verifier = verifier is not None and e.verified is not None
    reply_threshold = e.reply_threshold if e.reply_threshold is not None else (
        verifier.reply if use_verifier else t.reply)
    review_threshold = verifier.review if use_verifier else t.review
    what = "claim-verifier score" if use_verifier else "assert probability"
    blockers = []  # every reason this message does not get a card, in the words a moderator reads
    if stance is not Stance.ASSERT:
        blockers.append(f"its stance looks like '{stance.value}'")
    if score < reply_threshold:
        blockers.append(f"{what} {score:.2f} < {reply_threshold:.2f}")
    if use_verifier and p_assert < t.reply_stance:  # two signals must agree before the bot speaks
        blockers.append(f"assert probability {p_assert:.2f} < {t.reply_stance:.2f}")
    if e.match < t.reply_match:
        blockers.append(f"match {e.match:.2f} < {t.reply_match:.2f}")
    if e.nearest_stance is not Stance.ASSERT:
        near = e.nearest_stance.value if e.nearest_stance is not None else "none"
        blockers.append(f"the nearest pack example is labelled '{near}'")
    if not blockers and e.review_only:
        blockers.append("an admin set this talking point to review only")
    if not blockers and e.no_reply:
        blockers.append(e.no_reply)
    if not blockers:
        return Verdict(Action.REPLY, stance, score, True, "confident assertion of the talking point")
    stance_allows_review = not use_verifier or p_assert >= t.review_stance
    would_review = score >= review_threshold and stance_allows_review
    refuted = e.p_refute is not None and e.refute_cut is not None and e.p_refute >= e.refute_cut
    if would_review and refuted and e.verdict is not True:
        return Verdict(Action.NONE, stance, score, False,
                       f"reads as an argument against the talking point (calibrated refutation probability "
                       f"{e.p_refute:.2f} >= {e.refute_cut:.2f}); no card because {'; '.join(blockers)}")
    if would_review and use_verifier and _promotable(e, t, stance, score, p_assert):
        return Verdict(Action.REPLY, stance, score, True,
                       f"assertion of the talking point: calibrated refutation probability {e.p_refute:.2f} <= "
                       f"{e.promote['max_refute']:.2f} with {what} {score:.2f} and assert probability "
                       f"{p_assert:.2f} (below the plain reply thresholds)")
    if would_review:
        return Verdict(Action.REVIEW, stance, score, True, f"no card because {'; '.join(blockers)}: moderator review")
    if e.verdict is True and score >= review_threshold / 2:
        return Verdict(Action.REVIEW, stance, score, True,
                       "moderators confirmed a near-identical message on this server")
    why = (f"{what} {score:.2f} < {review_threshold:.2f}" if score < review_threshold
           else f"assert probability {p_assert:.2f} < {t.review_stance:.2f}")
    return Verdict(Action.NONE, stance, score, False,
                   f"not an assertion of the point ({why}; stance looks like '{stance.value}')")


def _promotable(e: Evidence, t: Thresholds, stance: Stance, score: float, p_assert: float) -> bool:
    """A would-be review becomes a reply only when every reply rule but the score thresholds holds (stance,
    match, nearest exemplar, no admin threshold or review-only switch, no contrary context, no moderator
    verdict against it) and the calibrator's bounds do (bot.core.calibrator)."""
    pr = e.promote
    return (pr is not None and e.p_refute is not None and stance is Stance.ASSERT and e.match >= t.reply_match
            and e.nearest_stance is Stance.ASSERT and e.reply_threshold is None and not e.review_only
            and not e.no_reply and e.verdict is not False
            and e.p_refute <= pr["max_refute"] and score >= pr["min_verified"] and p_assert >= pr["min_assert"])


class VerifierThresholds(Protocol):
    reply: float
    review: float
