"""Decision policy table: refutations, reports and questions never reply; uncertain assertions go to review."""

from __future__ import annotations

import itertools

import pytest

from bot.core.models import Action, Stance
from bot.core.policy import Evidence, Thresholds, decide

T = Thresholds()
A, R, P, Q, O = Stance.ASSERT, Stance.REFUTE, Stance.REPORT, Stance.ASK, Stance.OTHER


def probs(**kw: float) -> dict[Stance, float]:
    base = {A: 0.0, R: 0.0, P: 0.0, Q: 0.0, O: 0.0}
    base.update({Stance(k): v for k, v in kw.items()})
    rest = 1.0 - sum(base.values())
    base[O] += max(0.0, rest)
    return base


CASES = [
    # (name, evidence, expected action, expected incident)
    ("confident assertion", Evidence(0.80, probs(**{"assert": 0.92, "refute": 0.05}), A), Action.REPLY, True),
    ("assertion, weak match", Evidence(0.55, probs(**{"assert": 0.92}), A), Action.REVIEW, True),
    ("assertion, nearest exemplar refutes", Evidence(0.80, probs(**{"assert": 0.92}), R), Action.REVIEW, True),
    ("assertion below reply threshold", Evidence(0.80, probs(**{"assert": 0.60, "refute": 0.3}), A), Action.REVIEW, True),
    ("refutation", Evidence(0.90, probs(**{"refute": 0.85, "assert": 0.10}), A), Action.NONE, False),
    ("uncertain refutation", Evidence(0.90, probs(**{"refute": 0.55, "assert": 0.40}), A), Action.REVIEW, True),
    ("report", Evidence(0.90, probs(report=0.80, **{"assert": 0.15}), P), Action.NONE, False),
    ("question", Evidence(0.90, probs(ask=0.90), Q), Action.NONE, False),
    ("off topic", Evidence(0.30, probs(**{"assert": 0.99}), A), Action.NONE, False),
    ("moderators said false positive", Evidence(0.90, probs(**{"assert": 0.95}), A, verdict=False), Action.NONE, False),
    ("moderators confirmed", Evidence(0.70, probs(**{"assert": 0.20, "refute": 0.7}), A, verdict=True), Action.REVIEW, True),
    ("review-only point", Evidence(0.90, probs(**{"assert": 0.95}), A, review_only=True), Action.REVIEW, True),
    ("stricter point threshold", Evidence(0.90, probs(**{"assert": 0.90}), A, reply_threshold=0.97), Action.REVIEW, True),
]


@pytest.mark.parametrize("name,evidence,action,incident", CASES, ids=[c[0] for c in CASES])
def test_policy_table(name, evidence, action, incident):
    v = decide(evidence, T)
    assert v.action is action
    assert v.is_incident is incident
    assert v.reason


def test_question_about_a_clear_match_may_be_answered_but_is_no_incident():
    v = decide(Evidence(0.85, probs(ask=0.9), Q), T)
    assert v.action is Action.NONE and not v.is_incident and v.answer_question
    weak = decide(Evidence(0.50, probs(ask=0.9), Q), T)
    assert not weak.answer_question


@pytest.mark.parametrize("stance", [R, P, Q, O])
def test_no_stance_but_assert_ever_replies(stance):
    """Sweep the evidence space: whatever the scores, a non-assert argmax never produces a reply."""
    for match, top, nearest in itertools.product((0.5, 0.7, 0.95), (0.51, 0.7, 0.99), (A, R, None)):
        e = Evidence(match, probs(**{stance.value: top, "assert": (1 - top) * 0.9}), nearest)
        assert decide(e, T).action is not Action.REPLY


REASON_CASES = [
    # (name, evidence, words the reason must contain, words it must not)
    ("blocked by the match", Evidence(0.55, probs(**{"assert": 0.97}), A), ["match 0.55 < 0.60"], ["assert probability"]),
    ("blocked by the nearest example", Evidence(0.80, probs(**{"assert": 0.97}), P),
     ["nearest pack example is labelled 'report'"], ["match", "assert probability"]),
    ("blocked by the score", Evidence(0.80, probs(**{"assert": 0.60, "refute": 0.3}), A),
     ["assert probability 0.60 < 0.90"], ["match", "nearest"]),
    ("blocked by the stance", Evidence(0.80, probs(**{"refute": 0.55, "assert": 0.40}), A), ["stance looks like 'refute'"],
     ["match", "nearest"]),
    ("only a quote", Evidence(0.80, probs(**{"assert": 0.95}), A, no_reply="the message only quotes someone"),
     ["only quotes someone"], ["match", "nearest"]),
]


@pytest.mark.parametrize("name,evidence,has,lacks", REASON_CASES, ids=[c[0] for c in REASON_CASES])
def test_review_reasons_name_what_actually_blocked_the_card(name, evidence, has, lacks):
    v = decide(evidence, T)
    assert v.action is Action.REVIEW
    for words in has:
        assert words in v.reason
    for words in lacks:
        assert words not in v.reason


class _Cut:
    reply, review = 0.8, 0.4


@pytest.mark.parametrize("verified,action", [(0.95, Action.REPLY), (0.6, Action.REVIEW), (0.2, Action.NONE)])
def test_the_claim_verifier_score_and_thresholds_replace_the_assert_probability(verified, action):
    v = decide(Evidence(0.80, probs(**{"assert": 0.99}), A, verified=verified), T, _Cut())
    assert v.action is action
    assert v.score == verified


def test_the_verifier_never_lets_a_non_assertion_reply():
    v = decide(Evidence(0.90, probs(**{"refute": 0.6, "assert": 0.4}), A, verified=0.99), T, _Cut())
    assert v.action is Action.REVIEW and "stance looks like 'refute'" in v.reason


def test_with_a_verifier_the_stance_model_must_still_agree_before_a_card():
    v = decide(Evidence(0.80, probs(**{"assert": 0.60, "refute": 0.3}), A, verified=0.99), T, _Cut())
    assert v.action is Action.REVIEW and f"assert probability 0.60 < {T.reply_stance:.2f}" in v.reason


def test_with_a_verifier_a_message_the_stance_model_reads_as_no_assertion_is_not_reviewed():
    v = decide(Evidence(0.60, probs(**{"assert": 0.10, "other": 0.85}), A, verified=0.97), T, _Cut())
    assert v.action is Action.NONE and not v.is_incident
    assert f"assert probability 0.10 < {T.review_stance:.2f}" in v.reason
