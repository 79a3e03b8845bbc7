"""Stance calibrator: how likely a message argues *against* the talking point it matched (P(refute)).

The stance model (bot.core.stance) is trained on short pack exemplars; on real chat it leaves many refutations
with an assert probability between the review and reply thresholds, so they reach moderator review. The
calibrator is a small logistic regression, fitted by bench/train_stance_calibrator.py on tuning splits only, over
the detector's named signals (bot.core.verifier.signals: stance probabilities, nearest-exemplar evidence, cue
counts) plus the richer refutation cues below (sarcasm, "by that logic", rhetorical questions, ridicule,
corrections, "the claim that", a quote followed by the author's answer).

The policy (bot.core.policy) uses it in two ways, both opt-in through bot/data/stance_calibrator.json:
- ``cut``: a would-be moderator review whose P(refute) reaches it, and whose wording also reads as a rebuttal
  (:data:`EVIDENCE`), is dropped (no incident, no card);
- ``promote`` (optional): a would-be review that meets every reply rule but the score thresholds becomes a
  reply when P(refute) is at most ``max_refute`` and the claim verifier's probability and the stance model's
  P(assert) reach ``min_verified`` and ``min_assert``. Never from a message the policy would not review.

Loading (:func:`load_calibrator`): no file means no calibrator, and the policy behaves exactly as without one.
A file that is present but unreadable, or trained on other features, is logged as a warning and ignored (the
bot keeps running on the uncalibrated policy: more reviews, never more replies); ``strict=True`` raises instead
(the training script and the tests use it).

This module is kept apart from bot/core/stance.py on purpose: the detector's trained-model cache is keyed on
stance.py's source, so editing a refutation cue here does not retrain the stance model.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np

from .stance import CUES, STANCES

log = logging.getLogger(__name__)

_F = re.IGNORECASE | re.UNICODE | re.MULTILINE

REFUTE_CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, _F))
    for name, pattern in (
        # sarcastic openers and ironic agreement: "sure, NATO forced them", "ну да, конечно", "ja klar"
        ("sarcastic_open", r"^\W*(sure|oh sure|yeah|yeah right|right|riiight|oh yes|ah yes|of course|totally|"
                           r"ну да|ага|ну конечно|конечно|ну звісно|звісно|авжеж|ja klar|na klar|klar doch|"
                           r"natürlich|genau)\b\W*[,.!…]"),
        # "by that logic Finland joining NATO should have been a casus belli too"
        ("by_that_logic", r"(by that logic|by the same logic|by this logic|following that logic|by your logic|"
                          r"по (этой|твоей|вашей|такой|той же) логике|следуя (этой|такой|вашей|твоей) логике|"
                          r"за (цією|такою|твоєю|вашою|тією ж) логікою|"
                          r"nach (dieser|der|deiner|eurer|ihrer) logik|mit (dieser|der) logik)"),
        ("rhetorical", r"(\bthen why\b|\bso why\b|\bhow come\b|\bwhat about\b|\bwho (exactly|then)\b|"
                       r"\bтогда почему\b|\bа почему\b|\bи что\b|\bа как же\b|\bс чего бы\b|"
                       r"\bто чому\b|\bа чому\b|\bа як же\b|\bз чого б\b|"
                       r"\bwarum dann\b|\bwieso dann\b|\bund was ist mit\b|\bwie erklärst\b)"),
        ("ridicule", r"(\bclown\w*|\bcope\b|\bcopium\b|\btroll\w*|\bbots?\b|\bgullible\b|\bbrainwash\w*|"
                     r"\bкремлебот\w*|\bботы?\b|\bватн\w*|\bзомбир\w*|\bпромыт\w*|\bклоун\w*|"
                     r"\bзомбован\w*|\bвата\b|\bkremlbot\w*|\bhirngewasch\w*|🤡|🙄|😂|🤣)"),
        ("correction", r"(\bactually\b|\bin reality\b|\bin fact\b|\bthe reality is\b|\bthe truth is\b|"
                       r"\bnobody\b|\bno one\b|\bthere was no\b|\bthere were no\b|\bnever happened\b|"
                       r"\bна самом деле\b|\bв реальности\b|\bникто\b|\bне было\b|\bничего подобного\b|"
                       r"\bнасправді\b|\bніхто\b|\bне було\b|\bнічого подібного\b|"
                       r"\btatsächlich\b|\bin wirklichkeit\b|\bniemand\b|\bes gab kein\w*\b|\bnie passiert\b)"),
        # a dismissive rhetorical tag: "what coup", "какой ещё переворот", "який ще переворот", "who's illegitimate
        # again", "ein Putsch sieht anders aus", "stop saying", "projection"
        ("dismissal", r"(\bwhat (coup|genocide|nazis|biolabs?|provocation)\b|\bwho'?s (the )?\w+ again\b|\bso much for\b|"
                      r"\bstop (saying|repeating|spreading)\b|\bprojection\b|"
                      r"\bкакой (ещё |еще |там )?\w+\W*$|\bкакие (ещё |еще |там )?\w+\W*$|\bхватит (повторять|нести)\b|"
                      r"\bпроекци\w*|\bдля телевизора\b|"
                      r"\bякий (ще |там )?\w+\W*$|\bякі (ще |там )?\w+\W*$|\bгоді (повторювати|брехати)\b|"
                      r"\bпроекці\w*|\bдля телевізора\b|"
                      r"\bsieht anders aus\b|\bwas für ein\w* \w+\W*$|\bhört auf\b|\bprojektion\b|\bfürs fernsehen\b)"),
        # the author names the claim as someone else's: "the claim that", "те, кто говорит", "die Mär vom"
        ("their_claim", r"(\bpeople who (say|claim|think)\b|\bthose who (say|claim)\b|\bthe (claim|idea|story) that\b|"
                        r"\bthey (want you to|keep) (believ|say)\w*|"
                        r"\bте, кто (говор|утвержда)\w*|\bкто (говорит|утверждает)\b|\bсказки про\b|\bбайки про\b|"
                        r"\bті, хто (каж|стверджу)\w*|\bказки про\b|"
                        r"\bdie (behauptung|erzählung|mär) (dass|vom?|von)\b|\bwer (behauptet|glaubt)\b)"),
    )
)
# Mockery: ironic agreement followed by an absurd comparison ("sure, and the moon landing too", "and I'm the Pope",
# "said no historian ever", "so is every state, genius", "ещё скажи", "klar, und die Erde ist eine Scheibe"), and
# distancing ("people still think ...", "a Kremlin talking point", "методичка"). Not a calibrator feature (the shipped
# calibrator was fitted without it): it only keeps a card back, see :func:`argues_back`. Each pattern comes with the
# words one of which it cannot match without ("word*": a word starting so), so a message is searched only with the
# patterns it could match: one alternation of all of them cost ~100 µs per chat message, most of a decision's
# budget beyond the encoder.
_MOCKERY_PARTS: tuple[tuple[frozenset[str], str], ...] = tuple((frozenset(words.split()), pattern) for words, pattern in (
    ("sure yeah right", r"\b(sure|yeah|right)\s*,\s*and\b"),
    ("pope queen king tooth easter", r"\band i'?m the (pope|queen|king|tooth fairy|easter bunny)\b"),
    ("said", r"\bsaid no\w* (one |body |\w+ )?ever\b|\bsaid nobody\b"),
    ("genius einstein", r", (genius|einstein)\b"),
    ("imagine", r"\bimagine (still )?(believing|thinking|falling for)\b"),
    ("swallow believe fall", r"\bwhat people (will )?(swallow|believe|fall for)\b"),
    ("flat moon lizard reptilian reptilians birds",
     r"\b(the )?earth is flat\b|\bflat earth\w*|\bmoon landing\w*|\blizard people\b|\breptilians?\b|"
     r"\bbirds aren'?t real\b"),
    ("bro must", r"\btrust me,? bro\b|\bso it must be true\b|\bmust be true then\b"),
    ("says", r"\bsays the (\w+ ){0,2}(who|whose|that)\b"),
    ("news watch believe", r"\bif you (get your news from|watch|believe) (rt|russia today|russian tv|state tv|solovyov|"
                           r"the kremlin)\b"),
    ("assures tells reminds", r"\b(the kremlin|moscow|putin|lavrov) (assures|tells|reminds) (us|me)\b"),
    ("point points narrative narratives line lines propaganda",
     r"\bkremlin('s)? (talking points?|narratives?|lines?|propaganda)\b"),
    ("think believe", r"\b(some |many )?people (still |actually |really |seriously )?(think|believe)\b"),
    ("ну щас методичк*", r"\bну-ну\b|\bага,? щас\b|\bметодичк\w*"),
    ("думают верят считают", r"\b(люди|некоторые|многие) (до сих пор |всё ещё |все еще |ещё |еще )?(думают|верят|считают)\b"),
    ("думають вірять вважають", r"\b(люди|деякі|багато хто) (досі |ще |все ще )?(думають|вірять|вважають)\b"),
    ("sicher klar narrativ*", r"\bna sicher\b|\bschon klar\b|\bkreml-?narrativ\w*|\bklar\s*,\s*und\b"),
    ("glauben denken", r"\b(manche|leute|einige) (glauben|denken)\b"),
    ("папа балерина китайский королева", r"\bа я (папа римский|балерина|китайский л[её]тчик|королева)\b|"
                                        r"\bа я (папа римський|балерина|королева)\b"),
    ("плоская пласка рептилоид* рептилоїд* reptiloid* scheibe papst kaiser",
     r"\bземля плоская\b|\bплоская земля\b|\bрептилоид\w*|\bземля пласка\b|\bрептилоїд\w*|"
     r"\bund ich bin der (papst|kaiser)\b|\bdie erde ist eine scheibe\b|\breptiloid\w*"),
    ("скажи скажите скажіть", r"\b(ещё|еще) (скажи|скажите)\b|\bще (скажи|скажіть)\b"),
    ("ага да так авжеж", r"\b(ага|ну да)\s*,\s*(и|а)\b|\b(ага|ну так|авжеж)\s*,\s*(і|й|а)\b"),
))
_MOCKERY = tuple((frozenset(w for w in words if not w.endswith("*")),
                  tuple(w[:-1] for w in words if w.endswith("*")), re.compile(pattern, _F))
                 for words, pattern in _MOCKERY_PARTS)
_WORD = re.compile(r"\w+")


def mockery(text: str) -> re.Match | None:
    """The first (leftmost) mocking or distancing phrase in ``text`` (see :data:`_MOCKERY_PARTS`), or None."""
    words = set(_WORD.findall(text.lower()))
    first = None
    for exact, prefixes, pat in _MOCKERY:
        if exact.isdisjoint(words) and not (prefixes and any(w.startswith(prefixes) for w in words)):
            continue
        m = pat.search(text)
        if m and (first is None or m.start() < first.start()):
            first = m
    return first


# The families whose wording alone says "the author argues back" (with :func:`mockery`): such a message never gets
# a card, whatever the stance model reads (bot.core.detector). Not "rhetorical", "ridicule" or "correction":
# assertions use "what about", "clowns" and "in fact" as freely as rebuttals do.
NO_CARD_FAMILIES = ("sarcastic_open", "by_that_logic", "dismissal", "their_claim")
_NO_CARD = tuple(pat for name, pat in REFUTE_CUES if name in NO_CARD_FAMILIES)


def argues_back(text: str) -> str | None:
    """The words of ``text`` that argue back against what it mentions (sarcasm, mockery, "by that logic", a
    dismissive tag, "the claim that"), or None."""
    sample = text[:2000]
    for pat in _NO_CARD:
        m = pat.search(sample)
        if m:
            return m.group(0).strip(" ,.!…")
    m = mockery(sample)
    return m.group(0).strip(" ,.!…") if m else None


# Families that each say "the author argues back" and are too rare in the tuning data to earn a weight of their own
# (a family that never fires there gets none): the calibrator also reads their sum, so "by that logic" shares the
# weight "what coup?" earned.
ARGUE_BACK = ("by_that_logic", "rhetorical", "their_claim", "dismissal")
_ARGUE_BACK_IDX = [i for i, (name, _) in enumerate(REFUTE_CUES) if name in ARGUE_BACK]
N_REFUTE_CUES = len(REFUTE_CUES) + 3  # + their sum, + quote-then-rebuttal, + question marks inside a message

_QUOTE_LINE = re.compile(r"^\s*>", re.MULTILINE)
_QUOTED = re.compile(r"[\"“«„](.{8,}?)[\"”»“]", re.DOTALL)


def refute_cue_features(text: str, quoted: bool = False) -> np.ndarray:
    """Richer refutation cues (counts capped at 3): the families in :data:`REFUTE_CUES`, then whether a quote is
    followed by the author's own words, then question marks before the end of a longer message (rhetorical).
    ``quoted``: the text followed a ``>`` quote that was already cut from ``text``."""
    sample = text[:2000]
    out = np.zeros(N_REFUTE_CUES, dtype=np.float32)
    for i, (_, pat) in enumerate(REFUTE_CUES):
        out[i] = sum(1 for _ in zip(range(3), pat.finditer(sample)))
    lines = sample.splitlines()
    quoted_lines = [k for k, ln in enumerate(lines) if _QUOTE_LINE.match(ln)]
    after_quote = ""
    if quoted_lines:
        after_quote = " ".join(ln for ln in lines[quoted_lines[-1] + 1:] if ln.strip())
    elif quoted:
        after_quote = sample
    else:
        m = None
        for m in _QUOTED.finditer(sample):
            pass
        if m is not None:
            after_quote = sample[m.end():]
    k = len(REFUTE_CUES)
    out[k] = min(3.0, float(out[_ARGUE_BACK_IDX].sum()))
    out[k + 1] = 1.0 if len(after_quote.strip()) >= 12 else 0.0
    body = sample.rstrip()
    out[k + 2] = min(3, body[:-1].count("?")) if len(body) > 60 else 0.0
    return out


REFUTE_CUE_NAMES: tuple[str, ...] = tuple(f"rcue_{n}" for n, _ in REFUTE_CUES) + (
    "rcue_argue_back", "rcue_quote_rebuttal", "rcue_inner_question")
# The detector's named signals (bot.core.verifier.signals) the calibrator reads. Not the message length: in the
# tuning data refutations are longer than assertions (hand-written rebuttals vs terse claims), a property of how
# the data was made rather than of refuting, and a length weight would drop long assertions from review.
CALIBRATOR_SIGNALS: tuple[str, ...] = (
    "match", "claim", "margin",
    *(f"knn_{s.value}" for s in STANCES),
    *(f"p_{s.value}" for s in STANCES),
    *(f"cue_{name}" for name, _ in CUES),
)
CALIBRATOR_FEATURES: tuple[str, ...] = CALIBRATOR_SIGNALS + REFUTE_CUE_NAMES


# Rebuttal wording: a review is dropped only when the message also says so in words (two signals must agree, as
# for a card). Without it the model alone would drop assertions the stance model already misreads, e.g. negation-
# heavy ones ("he has no mandate, there were no elections").
EVIDENCE: tuple[str, ...] = ("rcue_argue_back", "rcue_sarcastic_open", "rcue_quote_rebuttal", "cue_debunk", "cue_sarcasm")


def calibrator_row(named: dict, text: str, quoted: bool = False) -> np.ndarray:
    """The calibrator's input for one (message, talking point) pair, in :data:`CALIBRATOR_FEATURES` order."""
    base = np.array([float(named.get(f, 0.0)) for f in CALIBRATOR_SIGNALS], dtype=np.float64)
    return np.concatenate([base, refute_cue_features(text, quoted).astype(np.float64)])


class CalibratorError(ValueError):
    """The calibrator file is unreadable or does not fit this code."""


class StanceCalibrator:
    """P(refute) for a (message, matched talking point) pair: standardised features, one logistic unit."""

    def __init__(self, mean, scale, coef, intercept: float, cut: float, features=CALIBRATOR_FEATURES,
                 provenance: str = "", promote: dict | None = None) -> None:
        if tuple(features) != CALIBRATOR_FEATURES:
            raise CalibratorError("stance calibrator was trained on other features; retrain it "
                                  "(bench/train_stance_calibrator.py)")
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.coef = np.asarray(coef, dtype=np.float64)
        if not (len(self.mean) == len(self.scale) == len(self.coef) == len(CALIBRATOR_FEATURES)):
            raise CalibratorError("stance calibrator arrays do not match its feature list")
        if not (np.isfinite(self.mean).all() and np.isfinite(self.coef).all() and (self.scale > 0).all()):
            raise CalibratorError("stance calibrator has non-finite weights or a non-positive scale")
        self.intercept = float(intercept)
        self.cut = float(cut)
        if not 0.0 < self.cut <= 1.0:
            raise CalibratorError(f"stance calibrator cut {self.cut} is not in (0, 1]")
        self.promote = dict(promote) if promote else None
        if self.promote is not None and set(self.promote) != {"max_refute", "min_verified", "min_assert"}:
            raise CalibratorError("stance calibrator 'promote' needs max_refute, min_verified and min_assert")
        self.provenance = provenance

    def probability_row(self, x: np.ndarray) -> np.ndarray | float:
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        logit = z @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(logit, -30, 30)))

    def raw_probability(self, named: dict, text: str, quoted: bool = False) -> float:
        """The model's P(refute) alone."""
        return float(self.probability_row(calibrator_row(named, text, quoted)))

    def probability(self, named: dict, text: str, quoted: bool = False) -> float:
        """P(refute) as the policy reads it: the model's, when the message carries rebuttal wording
        (:data:`EVIDENCE`), else 0 (the model alone never drops a review)."""
        x = calibrator_row(named, text, quoted)
        if not any(x[_EVIDENCE_IDX] > 0):
            return 0.0
        return float(self.probability_row(x))

    def to_json(self) -> dict:
        return {"features": list(CALIBRATOR_FEATURES), "mean": [round(float(v), 6) for v in self.mean],
                "scale": [round(float(v), 6) for v in self.scale], "coef": [round(float(v), 6) for v in self.coef],
                "intercept": round(self.intercept, 6), "cut": round(self.cut, 3), "promote": self.promote,
                "provenance": self.provenance}

    @classmethod
    def from_json(cls, d: dict) -> "StanceCalibrator":
        try:
            return cls(d["mean"], d["scale"], d["coef"], d["intercept"], d["cut"], tuple(d["features"]),
                       d.get("provenance", ""), d.get("promote"))
        except (KeyError, TypeError, AttributeError) as e:
            raise CalibratorError(f"stance calibrator file is missing or mistyped a field: {e!r}") from e


_EVIDENCE_IDX = [CALIBRATOR_FEATURES.index(f) for f in EVIDENCE]

CALIBRATOR_PATH = Path(__file__).resolve().parents[1] / "data" / "stance_calibrator.json"


def load_calibrator(path: Path = CALIBRATOR_PATH, *, strict: bool = False) -> StanceCalibrator | None:
    """The shipped calibrator; None when there is no file. An unusable file: a warning and None, or with
    ``strict`` a :class:`CalibratorError`."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return StanceCalibrator.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as e:  # CalibratorError and json.JSONDecodeError are ValueErrors
        if strict:
            raise e if isinstance(e, CalibratorError) else CalibratorError(f"unreadable {path}: {e}") from e
        log.warning("ignoring unusable stance calibrator %s (policy runs uncalibrated): %s", path, e)
        return None


def fit_calibrator(x: np.ndarray, y: np.ndarray, *, c: float = 0.5, weight: np.ndarray | None = None):
    """Fit the calibrator (training only): returns (mean, scale, coef, intercept)."""
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    clf = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    clf.fit((x - mean) / scale, y, sample_weight=weight)
    return mean, scale, clf.coef_[0], float(clf.intercept_[0])
