"""Train the stance calibrator (bot.core.stance.StanceCalibrator) and choose its cut, on tuning splits only.

Rows: the same tuning splits as bench/train_verifier.py (the odd half of data/devset.jsonl, the wild tuning split,
the claims tuning split), each decided by the detector as the bot decides (with the claim verifier). A row that
reaches the policy (it has signals) and is labelled *refute* is a positive, one labelled *assert* a negative
(other labels say nothing about refuting and are left out of the fit).

Evaluation leaves whole talking points out (GroupKFold over talking points): each row's out-of-fold P(refute)
comes from a model that never saw its talking point. The cut is chosen on those out-of-fold probabilities, among
rows the bot would send to review: the lowest P(refute) at which at most MAX_ASSERT_LOSS of the tuning assertions
sent to review would be dropped (and never below MIN_CUT). The shipped model is then fitted on all rows.

Writes bot/data/stance_calibrator.json (numbers only; no text) and prints what it chose.

    python bench/train_stance_calibrator.py [--dry-run]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bot.config import DetectorConfig  # noqa: E402
from bot.core.detector import Detector  # noqa: E402
from bot.core.encoders import UsemEncoder  # noqa: E402
from bot.core.models import Action  # noqa: E402
from bot.core.packs import PackRegistry  # noqa: E402
from bot.core.stance import (CALIBRATOR_FEATURES, CALIBRATOR_PATH, StanceCalibrator, calibrator_row,  # noqa: E402
                             fit_calibrator)
from eval_detection import MemoEncoder  # noqa: E402
from train_verifier import tuning_rows  # noqa: E402

MAX_ASSERT_LOSS = 0.02  # share of the tuning assertions sent to review that the cut may drop
MIN_CUT = 0.50
FOLDS = 5
C = 0.5


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dry-run", action="store_true", help="print, do not write the calibrator")
    ap.add_argument("--out", type=Path, default=CALIBRATOR_PATH)
    ap.add_argument("--max-assert-loss", type=float, default=MAX_ASSERT_LOSS)
    ap.add_argument("--c", type=float, default=C)
    args = ap.parse_args()
    rows = tuning_rows()
    print("tuning rows:", dict(Counter(r["source"] for r in rows)))
    det = Detector.build(PackRegistry.load(), DetectorConfig(), encoder=MemoEncoder(UsemEncoder()))
    det.calibrator = None  # decide as the bot did before the calibrator: its inputs are that decision's signals
    decisions = det.check_many([r["text"] for r in rows])

    xs, ys, groups, review = [], [], [], []
    for r, d in zip(rows, decisions):
        if not d.explanation.signals or r["label"] not in ("assert", "refute"):
            continue
        p = det.prepare(r["text"], r.get("lang"))
        xs.append(calibrator_row(d.explanation.signals, p.text, p.quoted))
        ys.append(int(r["label"] == "refute"))
        groups.append(r.get("talking_point") or d.talking_point_id or "?")
        review.append(d.action is Action.REVIEW)
    x, y, review = np.array(xs), np.array(ys), np.array(review)
    groups = np.array(groups)
    print(f"{len(x)} rows reach the policy: {int(y.sum())} refutations, {int((1 - y).sum())} assertions; "
          f"{int((review & (y == 1)).sum())} refutations and {int((review & (y == 0)).sum())} assertions go to review")

    from sklearn.model_selection import GroupKFold  # noqa: PLC0415

    oof = np.zeros(len(x))
    for fit_idx, held in GroupKFold(FOLDS).split(x, y, groups):
        mean, scale, coef, b = fit_calibrator(x[fit_idx], y[fit_idx], c=args.c)
        oof[held] = StanceCalibrator(mean, scale, coef, b, 1.0).probability_row(x[held])
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415

    print(f"leave-talking-points-out AUC (refute vs assert): {roc_auc_score(y, oof):.3f}")
    ra, rr = review & (y == 0), review & (y == 1)
    cut = 0.99
    for thr in np.arange(MIN_CUT, 0.991, 0.01):
        if (oof[ra] >= thr).sum() <= args.max_assert_loss * max(1, ra.sum()):
            cut = float(thr)
            break
    print(f"cut {cut:.2f}: out of fold, drops {int((oof[rr] >= cut).sum())} of {int(rr.sum())} refutations in "
          f"review and {int((oof[ra] >= cut).sum())} of {int(ra.sum())} assertions in review")
    for thr in (0.5, 0.6, 0.7, 0.8):
        print(f"  at {thr:.2f}: refutations dropped {int((oof[rr] >= thr).sum())}, "
              f"assertions dropped {int((oof[ra] >= thr).sum())}")
    mean, scale, coef, b = fit_calibrator(x, y, c=args.c)
    order = np.argsort(-np.abs(coef))[:12]
    print("largest coefficients:", {CALIBRATOR_FEATURES[i]: round(float(coef[i]), 3) for i in order})
    sources = sorted({r["source"] for r in rows})
    final = StanceCalibrator(mean, scale, coef, b, round(cut, 2),
                             provenance=f"bench/train_stance_calibrator.py on tuning splits: {', '.join(sources)}; "
                                        f"{len(x)} rows, {int(y.sum())} refutations; cut chosen leaving talking "
                                        f"points out (max assertion loss {args.max_assert_loss})")
    if not args.dry_run:
        args.out.write_text(json.dumps(final.to_json(), indent=1) + "\n", encoding="utf-8")
        print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
