"""A peer's test for stance: RumourEval 2019 Task A (SemEval-2019 Task 7), zero-shot, never tuned on.

Each reply in the official test split (Twitter + Reddit) is read as a message about its thread's source post:
the source post is the claim, the reply the message. The project's stance model scores the reply against that
claim exactly as the detector would for a talking point that has no exemplars (see :func:`claim_stance_probs`);
assert->support, refute->deny, ask->query, report/other->comment. Source posts themselves (a post is not a
reply to itself) and Reddit "more" stubs (no text) are left out of the main figure and counted separately.

Prints per-class P/R/F1, macro-F1, accuracy and the confusion matrix beside the best system of the task
(macro-F1 0.6187) and the majority-class baseline. Nothing is tuned on this data.

The data is not committed: it is read from the public snapshot (see data/rumoureval/README.md) or from a
directory in CONTEXTBOT_RUMOUREVAL_DIR holding ``final-eval-key.json`` and ``rumoureval-2019-test-data/``.

    python bench/rumoureval.py [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from snapshot import Snapshot  # noqa: E402

from bot.core.models import Stance  # noqa: E402
from bot.core.normalize import normalize  # noqa: E402
from bot.core.stance import STANCES, build_features, cue_features, knn_from_sims  # noqa: E402

SNAPSHOT = dict(repo="Darex20/rumour-eval", commit="e81c14cffb8427d19157568781f5ed2e3127f66c", root="data",
                env_var="CONTEXTBOT_RUMOUREVAL_DIR")
TEST_DIR = "rumoureval-2019-test-data"
KEY_FILE = "final-eval-key.json"
PLATFORMS = {"twitter-en-test-data": "twitter", "reddit-test-data": "reddit"}

LABELS = ("support", "deny", "query", "comment")
TO_RUMOUREVAL = {Stance.ASSERT: "support", Stance.REFUTE: "deny", Stance.ASK: "query",
                 Stance.REPORT: "comment", Stance.OTHER: "comment"}
BEST_SYSTEM_MACRO_F1 = 0.6187  # SemEval-2019 Task 7, subtask A, best submitted system


@dataclass(frozen=True)
class Pair:
    id: str  # the reply's post id (the key's id)
    platform: str  # "twitter" | "reddit"
    thread: str  # the source post's id
    claim: str  # the source post's text (a Reddit post's title)
    message: str  # the reply's text ("" for a Reddit "more" stub)
    label: str  # support | deny | query | comment
    is_source: bool = False  # the source post itself (claim == message)


# ------------------------------------------------------------------------------------------------ data


def snapshot() -> Snapshot:
    return Snapshot(**SNAPSHOT)


def _post_text(platform: str, post: dict, *, source: bool) -> str:
    if platform == "twitter":
        return post.get("full_text") or post.get("text") or ""
    if source:  # a Reddit listing: the submission's title states the claim
        return post["data"]["children"][0]["data"].get("title") or ""
    return post.get("data", {}).get("body") or ""  # "more" stubs carry no text


def load_pairs(snap: Snapshot | None = None) -> list[Pair]:
    """Every labelled post of the official test split, as (source post, reply) pairs, sorted by thread and id."""
    snap = snap or snapshot()
    key = json.loads(snap.read_text(KEY_FILE))["subtaskaenglish"]
    files = [f for f in snap.list_files(TEST_DIR) if ("/source-tweet/" in f or "/replies/" in f) and f.endswith(".json")]
    blobs = snap.read_many(files)
    sources: dict[str, tuple[str, str]] = {}  # thread -> (platform, text)
    replies: list[tuple[str, str, str, str]] = []  # platform, thread, id, text
    for path in files:
        parts = path.split("/")
        platform = PLATFORMS.get(parts[1])
        if platform is None:  # other folders a copy may hold are not part of the official split
            continue
        thread, kind, post_id = parts[-3], parts[-2], parts[-1][: -len(".json")]
        post = json.loads(blobs[path])
        if kind == "source-tweet":
            sources[thread] = (platform, _post_text(platform, post, source=True))
        else:
            replies.append((platform, thread, post_id, _post_text(platform, post, source=False)))
    pairs = [Pair(pid, platform, thread, sources[thread][1], text, key[pid])
             for platform, thread, pid, text in replies if pid in key]
    pairs += [Pair(thread, platform, thread, text, text, key[thread], is_source=True)
              for thread, (platform, text) in sources.items() if thread in key]
    return sorted(pairs, key=lambda p: (p.thread, p.is_source is False, p.id))


# ------------------------------------------------------------------------------------------------ stance


def claim_stance_probs(detector, claims: Sequence[str], messages: Sequence[str]) -> np.ndarray:
    """Stance probabilities (columns in ``bot.core.stance.STANCES`` order) of each message *as a statement about*
    the claim beside it, for claims that are not in any pack.

    The features are exactly those ``Detector._decide`` builds for a talking point without exemplars: the
    message embedding, nearest-exemplar cosines all 0 and the cosine between message and claim, plus the cue
    counts; the detector's trained stance model scores them. Texts are normalised as the detector does.
    """
    if len(claims) != len(messages):
        raise ValueError("one claim per message")
    norm_claims = [normalize(c).text for c in claims]
    norm_msgs = [normalize(m).text for m in messages]
    texts = list(dict.fromkeys(norm_claims + norm_msgs))
    emb = dict(zip(texts, detector.encoder.encode(texts))) if texts else {}
    no_exemplars = [np.zeros(0, dtype=np.int64)] * len(STANCES)
    out = np.zeros((len(norm_msgs), len(STANCES)), dtype=np.float32)
    for i, (c, m) in enumerate(zip(norm_claims, norm_msgs)):
        q = emb[m]
        knn = knn_from_sims(np.zeros(0, dtype=np.float32), no_exemplars, float(emb[c] @ q))
        out[i] = detector.model.predict_proba(build_features(q, knn, cue_features(m)), m)
    return out


def to_labels(probs: np.ndarray) -> list[str]:
    return [TO_RUMOUREVAL[STANCES[int(i)]] for i in probs.argmax(axis=1)]


# ------------------------------------------------------------------------------------------------ scoring


def scores(gold: Sequence[str], pred: Sequence[str]) -> dict:
    """Per-class precision/recall/F1, macro-F1 over the four classes (as the task's scorer), accuracy, confusion."""
    conf = {g: Counter() for g in LABELS}
    for g, p in zip(gold, pred):
        conf[g][p] += 1
    per_class = {}
    for c in LABELS:
        tp = conf[c][c]
        predicted = sum(conf[g][c] for g in LABELS)
        actual = sum(conf[c].values())
        prec = tp / predicted if predicted else 0.0
        rec = tp / actual if actual else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_class[c] = {"precision": prec, "recall": rec, "f1": f1, "n": actual}
    return {
        "per_class": per_class,
        "macro_f1": sum(v["f1"] for v in per_class.values()) / len(LABELS),
        "accuracy": sum(g == p for g, p in zip(gold, pred)) / max(1, len(gold)),
        "confusion": {g: dict(conf[g]) for g in LABELS},
        "n": len(gold),
    }


def print_scores(title: str, s: dict) -> None:
    print(f"\n=== {title} ({s['n']} posts) ===")
    print(f"{'class':<8} {'n':>5} {'P':>6} {'R':>6} {'F1':>6}")
    for c in LABELS:
        v = s["per_class"][c]
        print(f"{c:<8} {v['n']:>5} {v['precision']:>6.3f} {v['recall']:>6.3f} {v['f1']:>6.3f}")
    print(f"macro-F1 {s['macro_f1']:.4f}   (best system 0.6187)   accuracy {s['accuracy']:.4f}")
    print("confusion (rows gold, columns predicted):")
    print(f"{'':<8} " + " ".join(f"{c:>8}" for c in LABELS))
    for g in LABELS:
        print(f"{g:<8} " + " ".join(f"{s['confusion'][g].get(p, 0):>8}" for p in LABELS))


def majority_baseline(gold: Sequence[str]) -> dict:
    top = Counter(gold).most_common(1)[0][0]
    return scores(gold, [top] * len(gold))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0, help="only the first N threads' posts (smoke test)")
    args = ap.parse_args()
    snap = snapshot()
    if not snap.available():
        print(f"RumourEval 2019 Task A: {snap.unavailable_message()}")
        return 0
    pairs = load_pairs(snap)
    if args.limit:
        keep = set(sorted({p.thread for p in pairs})[: args.limit])
        pairs = [p for p in pairs if p.thread in keep]
    print(f"RumourEval 2019 Task A test split from {snap.where}: {len(pairs)} labelled posts "
          f"({Counter(p.platform for p in pairs)})")

    from bot.config import DetectorConfig
    from bot.core.detector import Detector
    from bot.core.encoders import UsemEncoder
    from bot.core.packs import PackRegistry

    t0 = time.perf_counter()
    det = Detector.build(PackRegistry.load(), DetectorConfig(), encoder=UsemEncoder())
    print(f"detector ready in {time.perf_counter() - t0:.1f} s")

    replies = [p for p in pairs if not p.is_source and p.message.strip()]
    stubs = [p for p in pairs if not p.is_source and not p.message.strip()]
    sources = [p for p in pairs if p.is_source]
    print(f"left out of the main figure: {len(sources)} source posts {dict(Counter(p.label for p in sources))}, "
          f"{len(stubs)} replies without text {dict(Counter(p.label for p in stubs))}")

    t0 = time.perf_counter()
    probs = claim_stance_probs(det, [p.claim for p in replies], [p.message for p in replies])
    print(f"scored {len(replies)} replies in {time.perf_counter() - t0:.1f} s")
    pred = to_labels(probs)
    gold = [p.label for p in replies]
    main_scores = scores(gold, pred)
    print_scores("replies with text, zero-shot", main_scores)
    for platform in ("twitter", "reddit"):
        idx = [i for i, p in enumerate(replies) if p.platform == platform]
        s = scores([gold[i] for i in idx], [pred[i] for i in idx])
        print(f"  {platform:<8} n {s['n']:>5}  macro-F1 {s['macro_f1']:.4f}  accuracy {s['accuracy']:.4f}")
    base = majority_baseline(gold)
    print(f"majority class ('{Counter(gold).most_common(1)[0][0]}') baseline: macro-F1 {base['macro_f1']:.4f}, "
          f"accuracy {base['accuracy']:.4f}")
    print(f"predicted stance (model's five classes): {dict(Counter(STANCES[int(i)].value for i in probs.argmax(1)))}")

    # The official scorer counts every labelled post; the same model over all of them (a source post read against
    # itself, a stub as an empty message) is printed for comparison with the published table only.
    everything = replies + stubs + sources
    all_probs = np.concatenate([probs, claim_stance_probs(det, [p.claim for p in stubs + sources],
                                                          [p.message for p in stubs + sources])])
    all_scores = scores([p.label for p in everything], to_labels(all_probs))
    all_base = majority_baseline([p.label for p in everything])
    print(f"\nall {all_scores['n']} labelled posts as the official scorer counts them: macro-F1 "
          f"{all_scores['macro_f1']:.4f} (best system 0.6187; majority baseline {all_base['macro_f1']:.4f}), "
          f"accuracy {all_scores['accuracy']:.4f}")
    print("\nsummary:", json.dumps({"macro_f1": round(main_scores["macro_f1"], 4),
                                     "accuracy": round(main_scores["accuracy"], 4),
                                     "majority_macro_f1": round(base["macro_f1"], 4),
                                     "all_posts_macro_f1": round(all_scores["macro_f1"], 4),
                                     "best_system_macro_f1": BEST_SYSTEM_MACRO_F1, "n": main_scores["n"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
