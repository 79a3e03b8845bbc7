"""Real propaganda claims -> talking points: how often the detector answers what fact-checkers catalogued.

Rows come from ``bench/claims.py`` (EUvsDisinfo titles, labelled by hand: ``assert`` with the talking point the
claim states, or ``none`` for other disinformation that must not get one of our cards). For each split (tune /
check, a hash of the id), each talking point and each language it prints

- reply recall: assertions answered in ``reply`` mode with the right talking point,
- reply+review recall: assertions flagged (reply or review) with the right talking point,
- right point among flagged: of the flagged assertions, the share matched to their own talking point,
- for ``none`` rows: the share flagged (reply or review) and the share replied.

    python bench/eval_claims.py [--show-misses N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import claims  # noqa: E402

from bot.core.models import Action  # noqa: E402

FLAGGED = (Action.REPLY, Action.REVIEW)


def _metrics(pairs: list[tuple[dict, object]]) -> dict:
    asserts = [(r, d) for r, d in pairs if r["label"] == "assert"]
    nones = [d for r, d in pairs if r["label"] == "none"]
    flagged = [(r, d) for r, d in asserts if d.action in FLAGGED]

    def share(k: int, n: int) -> float | None:
        return k / n if n else None

    return {
        "n_assert": len(asserts),
        "reply_recall": share(sum(d.action is Action.REPLY and d.talking_point_id == r["talking_point"]
                                  for r, d in asserts), len(asserts)),
        "flag_recall": share(sum(d.talking_point_id == r["talking_point"] for r, d in flagged), len(asserts)),
        "not_flagged": share(len(asserts) - len(flagged), len(asserts)),
        "n_flagged": len(flagged),
        "right_point_among_flagged": share(sum(d.talking_point_id == r["talking_point"] for r, d in flagged),
                                           len(flagged)),
        "n_none": len(nones),
        "none_flagged": share(sum(d.action in FLAGGED for d in nones), len(nones)),
        "none_replied": share(sum(d.action is Action.REPLY for d in nones), len(nones)),
    }


def evaluate(detector, rows: list[dict]) -> dict:
    """Decide every row's text with ``detector`` (language detected, as in a chat) and return the figures:
    ``overall``, ``by_split[split]``, ``by_point[split][talking_point]`` (assertions of that point, plus the
    ``none`` rows the detector flagged *as* that point under ``none_flagged_as``) and ``by_lang[split][lang]``."""
    decisions = detector.check_many([r["text"] for r in rows])
    pairs = list(zip(rows, decisions))
    out: dict = {"overall": _metrics(pairs), "by_split": {}, "by_point": {}, "by_lang": {}}
    for split in claims.SPLITS:
        sub = [(r, d) for r, d in pairs if r["split"] == split]
        out["by_split"][split] = _metrics(sub)
        points: dict[str, list] = defaultdict(list)
        false_alarms: dict[str, int] = defaultdict(int)
        for r, d in sub:
            if r["label"] == "assert":
                points[r["talking_point"]].append((r, d))
            elif d.action in FLAGGED and d.talking_point_id:
                false_alarms[d.talking_point_id] += 1
        out["by_point"][split] = {tp: {**_metrics(points.get(tp, [])), "none_flagged_as": false_alarms.get(tp, 0)}
                                  for tp in sorted(set(points) | set(false_alarms))}
        langs: dict[str, list] = defaultdict(list)
        for r, d in sub:
            langs[r["lang"]].append((r, d))
        out["by_lang"][split] = {lang: _metrics(v) for lang, v in sorted(langs.items())}
    out["decisions"] = decisions
    return out


def _pct(v: float | None) -> str:
    return "   n/a" if v is None else f"{v:6.1%}"


def print_report(res: dict) -> None:
    head = f"{'':<28} {'n':>4} {'reply':>6} {'r+rev':>6} {'unflag':>6} {'right':>6}   {'none n':>6} {'flag':>6} {'reply':>6}"
    row = lambda name, m: (f"{name:<28} {m['n_assert']:>4} {_pct(m['reply_recall'])} {_pct(m['flag_recall'])} "  # noqa: E731
                           f"{_pct(m['not_flagged'])} {_pct(m['right_point_among_flagged'])}   {m['n_none']:>6} "
                           f"{_pct(m['none_flagged'])} {_pct(m['none_replied'])}")
    print("\ncolumns: assertions n | reply recall | reply+review recall | not flagged at all | right point among "
          "flagged || none rows n | flagged | replied")
    print(head)
    print(row("all rows", res["overall"]))
    for split in claims.SPLITS:
        print(row(f"{split} half", res["by_split"][split]))
    for split in claims.SPLITS:
        print(f"\n-- {split} half, per talking point (none flagged as this point in the last column) --")
        print(f"{'talking point':<28} {'n':>4} {'reply':>6} {'r+rev':>6} {'unflag':>6} {'right':>6}   {'none→':>6}")
        for tp, m in res["by_point"][split].items():
            print(f"{tp:<28} {m['n_assert']:>4} {_pct(m['reply_recall'])} {_pct(m['flag_recall'])} "
                  f"{_pct(m['not_flagged'])} {_pct(m['right_point_among_flagged'])}   {m['none_flagged_as']:>6}")
        print(f"-- {split} half, per language --")
        for lang, m in res["by_lang"][split].items():
            print(row(lang, m))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--show-misses", type=int, default=0, help="print N check-half assertions not flagged right")
    args = ap.parse_args()
    snap = claims.snapshot()
    if not snap.available():
        print(f"EUvsDisinfo claims: {snap.unavailable_message()}")
        return 0
    rows = claims.load_rows(snap)
    print(f"{len(rows)} labelled claims from {snap.where}")

    from bot.config import DetectorConfig
    from bot.core.detector import Detector
    from bot.core.encoders import UsemEncoder
    from bot.core.packs import PackRegistry

    t0 = time.perf_counter()
    det = Detector.build(PackRegistry.load(), DetectorConfig(), encoder=UsemEncoder())
    print(f"detector ready in {time.perf_counter() - t0:.1f} s; thresholds {det.thresholds}")
    res = evaluate(det, rows)
    print_report(res)
    if args.show_misses:
        print("\nsome check-half assertions not flagged with their talking point:")
        shown = 0
        for r, d in zip(rows, res["decisions"]):
            if r["split"] == "check" and r["label"] == "assert" and not (
                    d.action in FLAGGED and d.talking_point_id == r["talking_point"]):
                print(f"  [{r['talking_point']}] -> {d.action.value} {d.talking_point_id} {d.score:.2f}: {r['text']}")
                shown += 1
                if shown >= args.show_misses:
                    break
    summary = {f"{s}_{k}": round(v, 4) for s in claims.SPLITS for k, v in res["by_split"][s].items()
               if isinstance(v, float)}
    print("\nsummary:", json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
