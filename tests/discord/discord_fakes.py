"""A tiny recording fake of the detector interface (``check``), for adapter tests that must not depend on
how the real model scores a sentence. The real IncidentService and SQLite storage are used regardless."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from bot.core.detector import Prepared
from bot.core.models import Action, Decision, Explanation, Stance

ASSERT = "SCRIPTED: nato forced russia to invade, it had no choice"
REVIEW = "SCRIPTED: maybe nato forced russia's hand, who knows"
REFUTE = "SCRIPTED: the claim that nato forced russia to invade is propaganda"
QUESTION = "SCRIPTED: did nato really force russia to invade?"
POINT = "SCRIPTED POINT "
TP = "nato-expansion-provoked"


def decision(tp: str | None, stance: Stance | None, action: Action, score: float, *, incident: bool, lang: str = "en") -> Decision:
    ex = Explanation(
        talking_point_id=tp, stance=stance, stance_probs={str(stance): score} if stance else {},
        semantic_score=score, lexical_score=score, match_score=score if tp else 0.0,
        nearest_exemplar=None, nearest_exemplar_stance=None, gated=tp is None,
        reason=f"scripted: {stance} of {tp}" if tp else "scripted: nothing", language=lang,
    )
    return Decision(action=action, talking_point_id=tp, stance=stance, score=score, explanation=ex, lang=lang,
                    is_incident=incident, candidates=((tp, score),) if tp else ())


@dataclass
class ScriptedDetector:
    """Decides by which scripted sentence the text contains (see the constants above); records every call."""

    calls: list[tuple[str, str | None, str | None, tuple[str, ...]]] = field(default_factory=list)

    # the batching interface the IncidentService uses (bot.core.detector.Detector has the same three methods)
    def prepare(self, text: str, lang: str | None = None) -> Prepared:
        return Prepared(text, lang, [], True)

    def gated_decision(self, prepared: Prepared) -> Decision:
        return decision(None, None, Action.NONE, 0.0, incident=False)

    def decide_prepared(self, items) -> list[Decision]:
        return [self.check(p.text, p.language, server_id=s, disabled_packs=d) for p, s, d in items]

    def check(self, text: str, lang: str | None = None, *, server_id: str | None = None,
              disabled_packs: tuple[str, ...] = ()) -> Decision:
        self.calls.append((text, lang, server_id, tuple(disabled_packs)))
        if "ukraine-war" in disabled_packs:
            return decision(None, None, Action.NONE, 0.0, incident=False)
        if text.startswith(POINT):  # "SCRIPTED POINT <talking point id>: ...": an uncertain assertion of that point
            return decision(text[len(POINT):].split(":")[0], Stance.ASSERT, Action.REVIEW, 0.6, incident=True)
        if ASSERT in text:
            return decision(TP, Stance.ASSERT, Action.REPLY, 0.95, incident=True)
        if REVIEW in text:
            return decision(TP, Stance.ASSERT, Action.REVIEW, 0.6, incident=True)
        if REFUTE in text:
            return decision(TP, Stance.REFUTE, Action.NONE, 0.9, incident=False)
        if QUESTION in text:
            return replace(decision(TP, Stance.ASK, Action.NONE, 0.9, incident=False), answer_question=True)
        return decision(None, None, Action.NONE, 0.0, incident=False)


@dataclass
class GatedDetector(ScriptedDetector):
    """A :class:`ScriptedDetector` that, while ``gate`` is clear, holds every decision until the test sets it
    (``entered`` tells the test a decision is waiting): a message the model is still checking."""

    gate: threading.Event = field(default_factory=threading.Event)
    entered: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    def decide_prepared(self, items) -> list[Decision]:  # runs in the service's worker thread
        self.entered.set()
        if not self.gate.wait(30):
            raise TimeoutError("the test never opened the gate")
        return super().decide_prepared(items)
