"""Train the claim verifier (bot/core/verifier.py) and choose its thresholds, on tuning splits only.

Training rows, each decided by the detector without a verifier (the verifier's inputs are that decision's signals):
- the tuning half of data/devset.jsonl (odd ids; the even half is the check in bench/eval_detection.py);
- the tuning split of the wild corpus (bench/wild.py: genuine war news and discussion, hard negatives), when its
  local snapshots are here;
- the tuning split of the real propaganda claims (bench/claims.py), when here.

First the genre score (bot/core/verifier.py): a logistic regression on the sentence embeddings of every tuning row
and the packs' assertion exemplars, "asserts some talking point" against the rest. Each tuning row's genre input to
the verifier is its out-of-fold score (5 folds), so the verifier learns how far to trust genre on rows the genre
model has not seen. Then the verifier: a row is positive when it asserts the talking point the detector matched.
Thresholds:
- reply: the lowest verifier probability at which replies on the tuning rows (with the policy's other reply rules,
  the stance model's P(assert) >= 0.70 among them) reach REPLY_PRECISION, plus a safety margin;
- review: per language, the lowest probability at which at most REVIEW_FALSE_ALARMS of that language's wild-tune
  rows are flagged (the strictest of them for other languages).

Writes bot/data/verifier.json (numbers only; no text) and prints what it chose.

    python bench/train_verifier.py [--dry-run]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bot.config import DetectorConfig  # noqa: E402
from bot.core.detector import Detector  # noqa: E402
from bot.core.encoders import UsemEncoder  # noqa: E402
from bot.core.models import Stance  # noqa: E402
from bot.core.packs import PackRegistry  # noqa: E402
from bot.core.normalize import normalize  # noqa: E402
from bot.core.verifier import DEFAULT_PATH, FEATURES, Verifier, fit_genre, fit_verifier  # noqa: E402
from eval_detection import MemoEncoder, load_devset  # noqa: E402

REPLY_PRECISION = 0.97
REPLY_MARGIN = 0.02
REVIEW_FALSE_ALARMS = 0.008  # per language, on the wild tuning split


def tuning_rows() -> list[dict]:
    """Labelled tuning rows from every source that is available here: text, lang, label, talking_point, source."""
    rows = []
    for r in load_devset(ROOT / "data" / "devset.jsonl"):
        if int(r["id"].rsplit("-", 1)[1]) % 2 == 1:
            rows.append({**r, "source": "devset"})
    try:
        from wild import load_wild  # noqa: PLC0415

        rows += [{**r, "source": "wild"} for r in load_wild(split="tune")]
    except ImportError:
        pass
    try:
        from claims import load_rows  # noqa: PLC0415

        rows += [{**r, "source": "claims"} for r in load_rows() if r["split"] == "tune"]
    except (ImportError, OSError, RuntimeError) as e:
        print(f"claims: not used ({e})")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dry-run", action="store_true", help="print, do not write bot/data/verifier.json")
    ap.add_argument("--out", type=Path, default=DEFAULT_PATH)
    args = ap.parse_args()
    rows = tuning_rows()
    print("tuning rows:", {s: sum(r["source"] == s for r in rows) for s in ("devset", "wild", "claims")})
    enc = MemoEncoder(UsemEncoder())
    det = Detector.build(PackRegistry.load(), DetectorConfig(), encoder=enc)
    det.verifier = None
    decisions = det.check_many([r["text"] for r in rows])

    # genre: out-of-fold scores for the tuning rows, then one model on all of them for the bot
    from sklearn.model_selection import StratifiedKFold  # noqa: PLC0415

    emb = enc.encode([normalize(r["text"]).text for r in rows])
    label = np.array([int(r["label"] == "assert") for r in rows])
    exemplars = det.ex_emb[det.ex_stance == 0]  # the packs' assertion exemplars: always positive
    ones = np.ones(len(exemplars), dtype=int)
    genre_oof = np.zeros(len(rows))
    for fit_idx, held in StratifiedKFold(5, shuffle=True, random_state=0).split(emb, label):
        coef_g, b_g = fit_genre(np.concatenate([emb[fit_idx], exemplars]), np.concatenate([label[fit_idx], ones]))
        genre_oof[held] = emb[held] @ coef_g + b_g
    genre_coef, genre_b = fit_genre(np.concatenate([emb, exemplars]), np.concatenate([label, ones]))

    xs, ys, keep = [], [], []
    for i, (r, d) in enumerate(zip(rows, decisions)):
        if not d.explanation.signals:  # gated or below the match threshold: the verifier is never asked
            continue
        xs.append([d.explanation.signals[f] for f in FEATURES[:-1]] + [genre_oof[i]])
        ys.append(int(r["label"] == "assert" and r.get("talking_point") == d.talking_point_id))
        keep.append((r, d))
    x, y = np.array(xs), np.array(ys)
    print(f"{len(x)} rows reach the verifier, {y.sum()} positive")
    mean, scale, coef, intercept = fit_verifier(x, y)
    v = Verifier(mean, scale, coef, intercept, reply=1.0, review=1.0)
    p = np.array([v.probability(dict(zip(FEATURES, row))) for row in x])

    # reply threshold: precision on rows that meet the policy's other reply rules
    t = det.thresholds
    eligible = np.array([d.explanation.stance_probs and max(d.explanation.stance_probs,
                         key=d.explanation.stance_probs.get) == "assert" and d.explanation.match_score >= t.reply_match
                         and d.explanation.stance_probs["assert"] >= t.reply_stance
                         and d.explanation.nearest_exemplar_stance is Stance.ASSERT for _, d in keep])
    reply = 0.99
    for thr in np.arange(0.30, 0.991, 0.01):
        sel = eligible & (p >= thr)
        if sel.sum() >= 5 and y[sel].mean() >= REPLY_PRECISION:
            reply = float(thr)
            break
    reply = min(0.99, reply + REPLY_MARGIN)

    # review threshold: false alarms on wild tuning rows, per language
    wild_by_lang = defaultdict(list)
    n_wild = defaultdict(int)
    for r in rows:
        if r["source"] == "wild" and r["label"] == "none":
            n_wild[r["lang"]] += 1
    for (r, _), pi in zip(keep, p):
        if r["source"] == "wild" and r["label"] == "none":
            wild_by_lang[r["lang"]].append(pi)
    # per language: the encoder separates claims from war talk better in some languages than in others, so each
    # language gets the lowest threshold that keeps its own wild false alarms within bounds (the strictest one is
    # the default for languages without wild rows)
    review_by_lang: dict[str, float] = {}
    for lang, n in sorted(n_wild.items()):
        for thr in np.arange(0.05, reply, 0.01):
            if sum(q >= thr for q in wild_by_lang[lang]) <= REVIEW_FALSE_ALARMS * n:
                review_by_lang[lang] = round(float(thr), 2)
                break
        else:
            review_by_lang[lang] = round(reply, 2)
    review = max(review_by_lang.values()) if review_by_lang else 0.5
    if not n_wild:
        print("no wild rows here: review threshold left at 0.5")
    print("review thresholds per language:", review_by_lang)
    asserts = sum(r["label"] == "assert" for r in rows)
    print(f"reply threshold {reply:.2f}: {int((eligible & (p >= reply) & (y == 1)).sum())} of {asserts} tuning "
          f"assertions replied, {int((eligible & (p >= reply) & (y == 0)).sum())} wrong")
    print(f"review threshold {review:.2f}: {int(((p >= review) & (y == 1)).sum())} of {asserts} flagged, "
          f"{int(((p >= review) & (y == 0)).sum())} wrong")
    print("coefficients:", {f: round(float(c), 3) for f, c in zip(FEATURES, coef)})
    sources = sorted({r["source"] for r in rows})
    final = Verifier(mean, scale, coef, intercept, reply=round(reply, 2), review=round(review, 2),
                     provenance=f"bench/train_verifier.py on tuning splits: {', '.join(sources)}; "
                                f"{len(x)} rows, {int(y.sum())} positive",
                     genre_coef=genre_coef, genre_intercept=genre_b, encoder=enc.name, review_by_lang=review_by_lang)
    if not args.dry_run:
        args.out.write_text(json.dumps(final.to_json(), indent=1) + "\n", encoding="utf-8")
        print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
