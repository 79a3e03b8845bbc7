"""The stance calibrator's effect, measured in one run: the same detector and the same encodings decided three ways -
without the calibrator (the policy as on main), with its cut only (would-be reviews it reads as refutations are
dropped), and with its cut and promote bounds (as shipped in bot/data/stance_calibrator.json). Prints issue #13's
figures for the dev set halves, the wild corpus per language and split, and the EUvsDisinfo claims per split.

Encoding is the slow part and happens once (the later passes reuse the memoised embeddings), so the comparison is
fair even on a loaded machine. bench/eval_detection.py prints the shipped configuration's full report.

    python bench/eval_calibrator.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bot.config import DetectorConfig  # noqa: E402
from bot.core.calibrator import StanceCalibrator, load_calibrator  # noqa: E402
from bot.core.detector import Detector  # noqa: E402
from bot.core.encoders import UsemEncoder  # noqa: E402
from bot.core.packs import PackRegistry  # noqa: E402
from eval_detection import MemoEncoder, issue_figures, load_devset  # noqa: E402

KEYS = ("reply_recall", "flag_recall", "reply_precision", "replies", "refutes_replied", "refute_to_review",
        "right_point_of_flagged")


def figures(det: Detector, rows: list[dict], wild: list[dict], claim_rows: list[dict]) -> dict[str, float]:
    import eval_claims  # noqa: PLC0415
    import eval_wild  # noqa: PLC0415

    out: dict[str, float] = {}
    decisions = det.check_many([r["text"] for r in rows])
    for half, parity in (("tune", 1), ("check", 0)):
        idx = [i for i, r in enumerate(rows) if int(r["id"].rsplit("-", 1)[1]) % 2 == parity]
        f = issue_figures([rows[i] for i in idx], [decisions[i] for i in idx])
        out.update({f"devset_{half}_{k}": f[k] for k in KEYS})
    if wild:
        res = eval_wild.evaluate(det, wild)
        for key, g in res["groups"].items():
            if g["flagged_pct"] is not None:
                out[f"wild_{key.replace('/', '_')}_flagged_pct"] = g["flagged_pct"]
                out[f"wild_{key.replace('/', '_')}_reply_pct"] = g["reply_pct"]
    if claim_rows:
        res = eval_claims.evaluate(det, claim_rows)
        for split, m in res["by_split"].items():
            out.update({f"claims_{split}_{k}": v for k, v in m.items() if isinstance(v, (int, float))})
    return out


def main() -> int:
    import claims  # noqa: PLC0415
    from wild import load_wild  # noqa: PLC0415

    shipped = load_calibrator(strict=True)
    if shipped is None:
        print("no bot/data/stance_calibrator.json: train it with bench/train_stance_calibrator.py")
        return 1
    rows = load_devset(ROOT / "data" / "devset.jsonl")
    wild = load_wild()
    snap = claims.snapshot()
    claim_rows = claims.load_rows(snap) if snap.available() else []
    det = Detector.build(PackRegistry.load(), DetectorConfig(), encoder=MemoEncoder(UsemEncoder()))
    cut_only = StanceCalibrator(shipped.mean, shipped.scale, shipped.coef, shipped.intercept, shipped.cut)
    variants = {"uncalibrated": None, "cut only": cut_only, "cut+promote": shipped}
    res = {}
    for name, cal in variants.items():
        det.calibrator = cal
        res[name] = figures(det, rows, wild, claim_rows)
        print(f"{name}: done", flush=True)
    keys = sorted(set().union(*res.values()))
    print(f"\n{'figure':<44}" + "".join(f"{n:>14}" for n in variants))
    for k in keys:
        print(f"{k:<44}" + "".join(f"{res[n].get(k, float('nan')):>14.4f}" for n in variants))
    print("\nsummary:", json.dumps({n: {k: round(v, 4) for k, v in r.items()} for n, r in res.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
