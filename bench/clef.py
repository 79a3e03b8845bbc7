"""Retrieval stage on CLEF CheckThat! 2022 Task 2A (English): rank all 14,231 fact-checked claims per tweet.

Prints MAP@1, MAP@5 and MRR for BM25 alone, the encoder alone, and the hybrid used by the detector, on the
2022 test split, its Ukraine-war slice, and the Dev-Test split (the 2021 test). The fusion weights are the
detector's defaults (bot/core/retrieval.py); nothing here is tuned on the 2022 test split.

    python bench/clef.py [--data ../shared/benchmarks/clef2022-2a-en] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.core.encoders import UsemEncoder  # noqa: E402
from bot.core.normalize import normalize  # noqa: E402
from bot.core.retrieval import RANK_LEXICAL_WEIGHT, HybridIndex, stems  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "clef2022-2a-en"


def read_queries(path: Path, header: bool) -> dict[str, str]:
    out = {}
    with path.open(encoding="utf-8", newline="") as f:
        rows = csv.reader(f, delimiter="\t")
        if header:
            next(rows)
        for row in rows:
            if len(row) >= 2:
                out[row[0]] = row[1]
    return out


def read_qrels(path: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[3] != "0":
            out.setdefault(parts[0], set()).add(parts[2])
    return out


def metrics(rankings: dict[str, list[str]], qrels: dict[str, set[str]], ids: list[str]) -> dict[str, float]:
    """MAP@k as in the CheckThat! scorer (average precision truncated at k, over the relevant count) and MRR."""
    res = {"MAP@1": 0.0, "MAP@5": 0.0, "MRR": 0.0}
    for q in ids:
        rel = qrels[q]
        ranked = rankings[q]
        for k in (1, 5):
            hits, ap = 0, 0.0
            for i, doc in enumerate(ranked[:k], 1):
                if doc in rel:
                    hits += 1
                    ap += hits / i
            res[f"MAP@{k}"] += ap / min(len(rel), k)
        rr = next((1.0 / i for i, doc in enumerate(ranked, 1) if doc in rel), 0.0)
        res["MRR"] += rr
    return {k: v / max(1, len(ids)) for k, v in res.items()}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, default=0, help="only the first N claims (smoke test)")
    ap.add_argument("--sweep", action="store_true", help="print the lexical-weight sweep on the Dev-Test split only")
    args = ap.parse_args()
    d = args.data
    claims = [json.loads(line) for line in (d / "vclaims.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.limit:
        claims = claims[: args.limit]
    print(f"collection: {len(claims)} fact-checked claims")
    enc = UsemEncoder()

    # documents: each claim owns two texts (claim, title); the lexical doc merges both
    doc_texts, doc_keys, lex_docs = [], [], []
    for i, c in enumerate(claims):
        vclaim = normalize(c.get("vclaim") or "").text
        title = normalize(c.get("title") or "").text
        doc_texts += [vclaim, title]
        doc_keys += [i, i]
        lex_docs.append(Counter(stems(vclaim) + stems(title)))
    t0 = time.perf_counter()
    doc_emb = np.concatenate([enc.encode(doc_texts[i:i + 512]) for i in range(0, len(doc_texts), 512)])
    print(f"encoded {len(doc_texts)} claim texts in {time.perf_counter() - t0:.1f} s")
    index = HybridIndex(doc_keys, doc_emb, lex_docs, len(claims))
    ids = [c["vclaim_id"] for c in claims]

    splits = {
        "2022 test": (read_queries(d / "CT2022-Task2A-EN-Test_Queries.tsv", False), read_qrels(d / "CT2022-Task2A-EN-Test_Qrels_gold.tsv")),
        "Dev-Test (2021 test)": (read_queries(d / "CT2022-Task2A-EN-Dev-Test_Queries.tsv", True), read_qrels(d / "CT2022-Task2A-EN-Dev-Test_QRELs.tsv")),
    }
    ukraine = set((d / "test_ukraine_war_slice_ids.txt").read_text().split())
    print(f"\n{'split':<28} {'n':>4}  {'ranker':<9} {'MAP@1':>6} {'MAP@5':>6} {'MRR':>6}")
    for name, (queries, qrels) in splits.items():
        qids = [q for q in queries if q in qrels]
        q_emb = enc.encode([normalize(queries[q]).text for q in qids])
        weights = [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0] if args.sweep and name.startswith("Dev") else []
        ranks = {"bm25": {}, "encoder": {}, "hybrid": {}, **{f"w={w}": {} for w in weights}}
        for qi, q in enumerate(qids):
            sc = index.score(q_emb[qi], stems(normalize(queries[q]).text))
            vecs = [("bm25", sc.bm25), ("encoder", sc.semantic), ("hybrid", index.rank_scores(sc))]
            vecs += [(f"w={w}", index.rank_scores(sc, w)) for w in weights]
            for ranker, vec in vecs:
                top = np.argpartition(-vec, 20)[:20]
                top = top[np.argsort(-vec[top])]
                ranks[ranker][q] = [ids[j] for j in top]
        subsets = [(name, qids)]
        if name == "2022 test":
            subsets.append(("2022 test, Ukraine slice", [q for q in qids if q in ukraine]))
        for sub_name, sub in subsets:
            for ranker in ranks:
                m = metrics(ranks[ranker], qrels, sub)
                print(f"{sub_name:<28} {len(sub):>4}  {ranker:<9} {m['MAP@1']:>6.3f} {m['MAP@5']:>6.3f} {m['MRR']:>6.3f}")
    print(f"\nMRR is computed over the top 20. hybrid = best cosine + {RANK_LEXICAL_WEIGHT} x BM25/max BM25 "
          "(weight chosen on the Dev-Test split with --sweep; never on the 2022 test).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
