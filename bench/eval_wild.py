"""False alarms (and labelled assertions found) on the wild corpus: real war news and discussion (bench/wild.py).

Per language and split (tune / check): n rows labelled `none` (hand-checked or presumed), reply %, review %,
reply+review % among them; and, for rows labelled `assert`, reply recall and reply+review recall (right talking
point). Target (issue #13): reply + review <= 1.5 % per language on `none` rows, replies 0. Report the check split;
tune on the tune split only. Ends with one JSON line.

    python bench/eval_wild.py [--split check] [--langs en,de] [--examples 5]

    from bench.eval_wild import evaluate      # evaluate(detector, rows) -> dict
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from wild import load_wild, wild_status  # noqa: E402

LANGS = ("en", "ru", "uk", "de")


def _pct(k: int, n: int) -> float | None:
    return round(100.0 * k / n, 2) if n else None


def evaluate(detector, rows: list[dict], decisions=None) -> dict:
    """Run the detector over rows (or use given decisions) and return figures per (lang, split) and per lang.

    Keys of the result: "groups" -> {"<lang>/<split>": {...}}, "langs" -> {"<lang>": {...}} (both splits),
    "flagged" -> list of (row id, action, talking point, stance, score) for every reply/review.
    """
    if decisions is None:
        decisions = detector.check_many([r["text"] for r in rows], [r["lang"] for r in rows])
    cells: dict[str, dict] = defaultdict(lambda: {"none_n": 0, "none_reply": 0, "none_review": 0,
                                                   "assert_n": 0, "assert_reply": 0, "assert_flagged": 0,
                                                   "assert_right_point": 0, "other_n": 0, "other_reply": 0,
                                                   "other_review": 0, "refute_n": 0, "refute_reply": 0,
                                                   "refute_review": 0})
    flagged = []
    for r, d in zip(rows, decisions):
        action = d.action.value
        for key in (f"{r['lang']}/{r['split']}", r["lang"], f"all/{r['split']}"):
            c = cells[key]
            if r["label"] == "none":
                c["none_n"] += 1
                c["none_reply"] += action == "reply"
                c["none_review"] += action == "review"
            elif r["label"] == "assert":
                right = d.talking_point_id == r["talking_point"]
                c["assert_n"] += 1
                c["assert_reply"] += action == "reply" and right
                c["assert_flagged"] += action in ("reply", "review") and right
                c["assert_right_point"] += action in ("reply", "review") and right
            else:
                c["other_n"] += 1
                c["other_reply"] += action == "reply"
                c["other_review"] += action == "review"
                if r["label"] == "refute":  # issue #13: refutations sent to review <= 5 %, none replied
                    c["refute_n"] += 1
                    c["refute_reply"] += action == "reply"
                    c["refute_review"] += action == "review"
        if action in ("reply", "review"):
            flagged.append((r["id"], action, d.talking_point_id, d.stance.value if d.stance else None,
                            round(float(d.score), 3)))

    def figures(c: dict) -> dict:
        return {
            "n_none": c["none_n"],
            "reply_pct": _pct(c["none_reply"], c["none_n"]),
            "review_pct": _pct(c["none_review"], c["none_n"]),
            "flagged_pct": _pct(c["none_reply"] + c["none_review"], c["none_n"]),
            "n_assert": c["assert_n"],
            "assert_reply_recall": round(c["assert_reply"] / c["assert_n"], 3) if c["assert_n"] else None,
            "assert_flagged_recall": round(c["assert_flagged"] / c["assert_n"], 3) if c["assert_n"] else None,
            "n_other_stance": c["other_n"],
            "other_stance_reply": c["other_reply"],
            "other_stance_review": c["other_review"],
            "n_refute": c["refute_n"],
            "refute_replied": c["refute_reply"],
            "refute_review_pct": _pct(c["refute_review"], c["refute_n"]),
        }

    return {
        "groups": {k: figures(v) for k, v in sorted(cells.items()) if "/" in k},
        "langs": {k: figures(v) for k, v in sorted(cells.items()) if "/" not in k},
        "flagged": flagged,
    }


def print_table(result: dict, splits=("tune", "check")) -> None:
    print(f"{'lang':<5} {'split':<6} {'n none':>7} {'reply %':>8} {'review %':>9} {'r+r %':>7}   "
          f"{'n assert':>8} {'reply rec':>9} {'r+r rec':>8}   {'n refute':>8} {'replied':>7} {'review %':>8}")
    fmt = lambda v, spec: "n/a" if v is None else format(v, spec)  # noqa: E731
    for lang in (*LANGS, "all"):
        for split in splits:
            g = result["groups"].get(f"{lang}/{split}")
            if not g:
                continue
            print(f"{lang:<5} {split:<6} {g['n_none']:>7} {fmt(g['reply_pct'], '.2f'):>8} "
                  f"{fmt(g['review_pct'], '.2f'):>9} {fmt(g['flagged_pct'], '.2f'):>7}   {g['n_assert']:>8} "
                  f"{fmt(g['assert_reply_recall'], '.3f'):>9} {fmt(g['assert_flagged_recall'], '.3f'):>8}   "
                  f"{g['n_refute']:>8} {g['refute_replied']:>7} {fmt(g['refute_review_pct'], '.1f'):>8}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=("tune", "check"), help="only this split (default: both, printed apart)")
    ap.add_argument("--langs", help="comma-separated languages (default: all)")
    ap.add_argument("--examples", type=int, default=3, help="false alarms to print per language (check split)")
    ap.add_argument("--dump", type=Path, metavar="FILE",
                    help="write every flagged row (with its text: keep the file local, never commit it) as jsonl")
    args = ap.parse_args(argv)

    rows = load_wild(split=args.split, langs=args.langs.split(",") if args.langs else None)
    if not rows:
        print(f"wild corpus: n/a ({wild_status()})")
        print(json.dumps({"wild": None, "reason": wild_status()}))
        return 0
    print(wild_status())

    from bot.core.detector import Detector
    from bot.core.packs import PackRegistry

    detector = Detector.build(PackRegistry.load())
    decisions = detector.check_many([r["text"] for r in rows], [r["lang"] for r in rows])
    result = evaluate(detector, rows, decisions)
    print()
    print_table(result)
    if args.dump:
        by_id = {r["id"]: r for r in rows}
        with args.dump.open("w", encoding="utf-8") as f:
            for rid, action, tp, stance, score in result["flagged"]:
                r = by_id[rid]
                f.write(json.dumps({"id": rid, "lang": r["lang"], "split": r["split"], "label": r["label"],
                                    "action": action, "talking_point": tp, "stance": stance, "score": score,
                                    "text": r["text"]}, ensure_ascii=False) + "\n")
    if args.examples:
        by_id = {r["id"]: r for r in rows}
        print("\nfalse alarms on `none` rows (check split), a few per language:")
        for lang in LANGS:
            shown = 0
            for rid, action, tp, stance, score in result["flagged"]:
                r = by_id[rid]
                if r["lang"] != lang or r["split"] != "check" or r["label"] != "none" or shown >= args.examples:
                    continue
                shown += 1
                print(f"  [{lang}] {action:<6} {tp} {stance} {score:.2f}  {r['text'][:110]!r}")
    summary = {k: {f: v[f] for f in ("n_none", "reply_pct", "review_pct", "flagged_pct", "n_assert",
                                      "assert_reply_recall", "assert_flagged_recall")}
               for k, v in result["groups"].items()}
    print(json.dumps({"wild": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
