"""Train the stance calibrator (bot/core/calibrator.py) and choose its cut and promote bounds, on tuning splits only.

Rows: the tuning splits of bench/train_verifier.py (the odd half of data/devset.jsonl, the wild tuning split, the
claims tuning split), each decided by the detector as the bot decides (with the claim verifier) but without a
calibrator. A row that reaches the policy (it has signals) and is labelled *refute* is a positive, one labelled
*assert* a negative; other labels say nothing about refuting and stay out of the fit (wild rows still show what
the cut and the promote bounds would do to false alarms).

Evaluation leaves whole talking points out (GroupKFold over talking points): each row's out-of-fold P(refute)
comes from a model that never saw its talking point, and both choices below are made on those probabilities.
- cut: the lowest P(refute) at which at most --max-assert-loss of the tuning assertions sent to review would be
  dropped (never below MIN_CUT);
- promote, only with --promote (a would-be review that meets every reply rule but the score thresholds becomes a
  reply): the bounds (max P(refute), min verifier probability, min P(assert)) that promote the most tuning
  assertions of the right point with none wrong, each then tightened by a margin; none if fewer than MIN_PROMOTED
  would be promoted. Off in the shipped file: on the dev set's check half the bounds chosen this way (with an earlier fit) cost reply
  precision (1.000 -> 0.938, one wrong card of 16) for one more right card (bench/eval_calibrator.py).
The shipped model is then fitted on all rows.

The detector's decisions are the slow part (encoding thousands of messages), so their signals (numbers only, no
text) are cached in the detector cache directory, keyed on the packs, encoder, detector/policy/verifier code, the
verifier weights and the rows. Re-running after editing a cue in bot/core/calibrator.py takes seconds.

Writes bot/data/stance_calibrator.json (numbers only; no text) and prints what it chose.

The shipped bot/data/stance_calibrator.json is what this wrote with no options (with the wild corpus and the claims
snapshot present, e.g. CONTEXTBOT_WILD_DIR=/work/wild-cache) before a long message's calibrator input became its
matched span and the sentences commenting on it (Detector.calibrator_view); it was kept, as a refit with that input
chose cut 0.61 and dropped one more tuning assertion from review (the features themselves did not change):

    python bench/train_stance_calibrator.py [--dry-run] [--refresh] [--promote]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bot.config import DetectorConfig  # noqa: E402
from bot.core.calibrator import (CALIBRATOR_FEATURES, CALIBRATOR_PATH, EVIDENCE, StanceCalibrator,  # noqa: E402
                                 calibrator_row, fit_calibrator)
from bot.core.detector import Detector, default_cache_dir  # noqa: E402
from bot.core.encoders import UsemEncoder  # noqa: E402
from bot.core.models import Action  # noqa: E402
from bot.core.packs import PackRegistry  # noqa: E402
from bot.core.verifier import DEFAULT_PATH as VERIFIER_PATH  # noqa: E402
from eval_detection import MemoEncoder  # noqa: E402
from train_verifier import tuning_rows  # noqa: E402

MAX_ASSERT_LOSS = 0.02  # share of the tuning assertions sent to review that the cut may drop
MIN_CUT = 0.50
FOLDS = 5
C = 0.5
MIN_PROMOTED = 5  # promote bounds that would turn fewer tuning reviews into replies are not worth the risk
PROMOTE_MARGIN = 0.05  # the chosen bounds are tightened by this much
CACHE_VERSION = 2  # 2: the matched span's bounds are kept


def _cache_key(registry, encoder, rows: list[dict]) -> str:
    h = hashlib.sha256(f"v{CACHE_VERSION}".encode())
    h.update(Detector.cache_path(registry, encoder).name.encode())
    h.update(VERIFIER_PATH.read_bytes() if VERIFIER_PATH.exists() else b"")
    core = ROOT / "bot" / "core"
    for module in ("detector.py", "policy.py", "verifier.py", "normalize.py", "retrieval.py", "spans.py"):
        if (core / module).exists():
            h.update((core / module).read_bytes())
    for r in rows:
        h.update(f"{r['source']}\0{r.get('id', '')}\0{r['label']}\0{r.get('talking_point')}\0{r['text']}\n".encode())
    return h.hexdigest()[:20]


def _promote_all() -> StanceCalibrator:
    """A calibrator that never drops a review and promotes every eligible one: shows which reviews are eligible."""
    n = len(CALIBRATOR_FEATURES)
    return StanceCalibrator(np.zeros(n), np.ones(n), np.zeros(n), -30.0, 1.0,
                            promote={"max_refute": 1.0, "min_verified": 0.0, "min_assert": 0.0})


def collect(det: Detector, rows: list[dict], refresh: bool) -> list[dict]:
    """Per tuning row that reaches the policy: its signals and the uncalibrated decision (cached, no text)."""
    path = default_cache_dir() / f"stance-calibrator-rows-{_cache_key(det.registry, det.encoder, rows)}.json"
    if path.exists() and not refresh:
        print("signals from", path)
        return json.loads(path.read_text(encoding="utf-8"))
    texts = [r["text"] for r in rows]
    det.calibrator = None  # its inputs are the uncalibrated decision's signals
    base = det.check_many(texts)
    det.calibrator = _promote_all()  # the encoder memo makes this pass cheap
    promoted = det.check_many(texts)
    det.calibrator = None
    out = []
    for i, (r, d, dp) in enumerate(zip(rows, base, promoted)):
        if not d.explanation.signals:
            continue
        out.append({"row": i, "source": r["source"], "lang": r.get("lang") or d.lang, "label": r["label"],
                    "gold": r.get("talking_point"), "point": d.talking_point_id, "action": d.action.value,
                    "eligible": d.action is Action.REVIEW and dp.action is Action.REPLY,
                    "span": list(d.explanation.span) if d.explanation.span else None,
                    "signals": d.explanation.signals})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out), encoding="utf-8")
    print("cached signals in", path)
    return out


def choose_cut(p: np.ndarray, review_assert: np.ndarray, max_loss: float) -> float:
    for k in range(round(MIN_CUT * 100), 100):  # whole hundredths: no floating-point drift in the steps
        if (p[review_assert] >= k / 100).sum() <= max_loss * max(1, review_assert.sum()):
            return k / 100
    return 0.99


def choose_promote(p: np.ndarray, verified: np.ndarray, p_assert: np.ndarray, eligible: np.ndarray,
                   correct: np.ndarray) -> tuple[dict | None, int]:
    """The bounds that promote the most correct eligible rows with none wrong, then tightened by a margin."""
    best, best_n = None, 0
    for max_r in np.arange(0.02, 0.51, 0.02):
        for min_v in np.arange(0.30, 0.96, 0.05):
            for min_a in np.arange(0.30, 0.91, 0.05):
                sel = eligible & (p <= max_r) & (verified >= min_v) & (p_assert >= min_a)
                if sel.any() and correct[sel].all() and sel.sum() > best_n:
                    best, best_n = (max_r, min_v, min_a), int(sel.sum())
    if best is None or best_n < MIN_PROMOTED:
        return None, best_n
    max_r, min_v, min_a = best
    print(f"  best bounds before the margin: max P(refute) {max_r:.2f}, min verifier {min_v:.2f}, "
          f"min P(assert) {min_a:.2f}")
    return {"max_refute": round(float(max(0.01, max_r - PROMOTE_MARGIN)), 2),
            "min_verified": round(float(min(0.99, min_v + PROMOTE_MARGIN)), 2),
            "min_assert": round(float(min(0.99, min_a + PROMOTE_MARGIN)), 2)}, best_n


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dry-run", action="store_true", help="print, do not write the calibrator")
    ap.add_argument("--refresh", action="store_true", help="decide the tuning rows again (ignore the cache)")
    ap.add_argument("--promote", action="store_true", help="also choose and ship promote bounds")
    ap.add_argument("--out", type=Path, default=CALIBRATOR_PATH)
    ap.add_argument("--max-assert-loss", type=float, default=MAX_ASSERT_LOSS)
    ap.add_argument("--c", type=float, default=C)
    args = ap.parse_args()
    rows = tuning_rows()
    print("tuning rows:", dict(Counter(r["source"] for r in rows)))
    det = Detector.build(PackRegistry.load(), DetectorConfig(), encoder=MemoEncoder(UsemEncoder()))
    info = collect(det, rows, args.refresh)

    x_all = []
    for c in info:  # the calibrator reads what the detector shows it (Detector.calibrator_view: cheap, no encoder)
        p = det.prepare(rows[c["row"]]["text"], rows[c["row"]].get("lang"))
        span = next((s for s in p.spans if list(s.bounds) == c["span"]), None) if c.get("span") else None
        x_all.append(calibrator_row(*det.calibrator_view(p, span, c["signals"]), p.answers_quote))
    x_all = np.array(x_all)
    label = np.array([c["label"] for c in info])
    fit_rows = np.isin(label, ["assert", "refute"])
    x, y = x_all[fit_rows], (label[fit_rows] == "refute").astype(int)
    groups = np.array([c["gold"] or c["point"] or "?" for c in info])[fit_rows]
    review = np.array([c["action"] == "review" for c in info])
    print(f"{len(info)} rows reach the policy; fit on {len(x)}: {int(y.sum())} refutations, {int((1 - y).sum())} "
          f"assertions; in review: {int((review & (label == 'refute')).sum())} refutations, "
          f"{int((review & (label == 'assert')).sum())} assertions, {int((review & (label == 'none')).sum())} none")

    from sklearn.metrics import roc_auc_score  # noqa: PLC0415
    from sklearn.model_selection import GroupKFold  # noqa: PLC0415

    oof_fit = np.zeros(len(x))
    oof_all = np.zeros(len(info))  # rows outside the fit (none, report, ...): the mean of the fold models
    fit_idx_all = np.flatnonzero(fit_rows)
    for fit_idx, held in GroupKFold(FOLDS).split(x, y, groups):
        mean, scale, coef, b = fit_calibrator(x[fit_idx], y[fit_idx], c=args.c)
        model = StanceCalibrator(mean, scale, coef, b, 1.0)
        oof_fit[held] = model.probability_row(x[held])
        oof_all[~fit_rows] += model.probability_row(x_all[~fit_rows]) / FOLDS
    oof_all[fit_idx_all] = oof_fit
    print(f"leave-talking-points-out AUC (refute vs assert): {roc_auc_score(y, oof_fit):.3f}")

    # the policy reads P(refute) only where the message carries rebuttal wording (bot.core.calibrator.EVIDENCE)
    evidence = x_all[:, [CALIBRATOR_FEATURES.index(f) for f in EVIDENCE]].sum(axis=1) > 0
    print(f"rows with rebuttal wording: {int((evidence & (label == 'refute')).sum())} refutations, "
          f"{int((evidence & (label == 'assert')).sum())} assertions")
    oof_all = np.where(evidence, oof_all, 0.0)
    ra, rr = review & (label == "assert"), review & (label == "refute")
    rn = review & ~np.isin(label, ["assert", "refute"])
    cut = choose_cut(oof_all, ra, args.max_assert_loss)
    for thr in sorted({0.5, 0.6, 0.7, 0.8, 0.9, cut}):
        mark = "  <- cut" if thr == cut else ""
        print(f"  P(refute) >= {thr:.2f}: review drops {int((oof_all[rr] >= thr).sum())}/{int(rr.sum())} refutations, "
              f"{int((oof_all[ra] >= thr).sum())}/{int(ra.sum())} assertions, "
              f"{int((oof_all[rn] >= thr).sum())}/{int(rn.sum())} others{mark}")

    promote, n_promote = None, 0
    if args.promote:
        sig = [c["signals"] for c in info]
        verified = np.array([s.get("verified", 0.0) for s in sig])
        p_assert = np.array([s.get("p_assert", 0.0) for s in sig])
        eligible = np.array([c["eligible"] for c in info])
        correct = np.array([c["label"] == "assert" and c["gold"] == c["point"] for c in info])
        promote, n_promote = choose_promote(oof_all, verified, p_assert, eligible, correct)
        print(f"promote: {int(eligible.sum())} eligible reviews ({int((eligible & correct).sum())} right assertions, "
              f"{int((eligible & (label == 'refute')).sum())} refutations, {int((eligible & (label == 'none')).sum())} "
              f"none); best bounds promote {n_promote} with none wrong -> shipped: {promote}")
        if promote:
            sel = eligible & (oof_all <= promote["max_refute"]) & (verified >= promote["min_verified"]) \
                & (p_assert >= promote["min_assert"])
            print(f"  with the margin: {int(sel.sum())} promoted, {int((sel & ~correct).sum())} wrong "
                  f"(by source {dict(Counter(c['source'] for c, s in zip(info, sel) if s))})")

    mean, scale, coef, b = fit_calibrator(x, y, c=args.c)
    order = np.argsort(-np.abs(coef))[:14]
    print("largest coefficients:", {CALIBRATOR_FEATURES[i]: round(float(coef[i]), 3) for i in order})
    sources = sorted({r["source"] for r in rows})
    final = StanceCalibrator(mean, scale, coef, b, cut, promote=promote,
                             provenance=f"bench/train_stance_calibrator.py on tuning splits: {', '.join(sources)}; "
                                        f"{len(x)} rows, {int(y.sum())} refutations; cut and promote bounds chosen "
                                        f"leaving talking points out (max assertion loss {args.max_assert_loss})")
    if not args.dry_run:
        args.out.write_text(json.dumps(final.to_json(), indent=1) + "\n", encoding="utf-8")
        print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
